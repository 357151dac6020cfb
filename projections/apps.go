package projections

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// KindApp is the document kind of integration apps (API.md "Apps"), by
// app id. Keys: "client_id:<client_id>" and "name:<tenant>/<lower-case
// name>". Sort is the creation time (SortTime), so lists are oldest first.
// A deleted app has no document: it is found neither by id nor by
// client_id, and its name is free.
const KindApp = "app"

// App is an app as the API shows it, plus what only the server may see
// (the secrets' hashes) and the versions commands need.
type App struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	events.AppSettings
	Metadata json.RawMessage `json:"metadata,omitempty"`
	Scopes   []AppScope      `json:"scopes"`
	// Grants are the approvals of the grant types that need one
	// (GrantNeedsApproval: authorization_code), and RedirectURIApprovals
	// those of each redirect URI, in the order of RedirectURIs (API.md
	// "Users and sign-in"). Each entry's Scope names the grant type or the
	// URI; the scope decisions' machinery decides them. An entry starts
	// pending when app.created or app.updated adds its grant type or URI,
	// and goes when one removes it.
	Grants               []AppScope `json:"grants,omitempty"`
	RedirectURIApprovals []AppScope `json:"redirect_uri_approvals,omitempty"`
	// Secrets are oldest first. Their hashes must never leave the server.
	Secrets   []AppSecret `json:"secrets"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
	// CreatedBy is the id of the actor of app.created.
	CreatedBy string `json:"created_by"`
	// DeactivatedAt is when the app was last deactivated: tokens issued
	// until then stay dead once it is active again (IssuedBeforeKill).
	DeactivatedAt *time.Time `json:"deactivated_at,omitempty"`
	// CodeFlowKilledAt is when the app's authorization_code grant last
	// stopped being effective (revoked, or taken out of its grant types
	// while approved): people's tokens issued before stay dead
	// (UserTokenLive).
	CodeFlowKilledAt *time.Time `json:"code_flow_killed_at,omitempty"`
	// Version counts the app's events applied so far (1 after
	// app.created): the API's "version" and ETag.
	Version uint64 `json:"version"`
	// LastSeq is the stream sequence of the app's last event: the
	// events.Expect.Seq of its next append.
	LastSeq uint64 `json:"last_seq"`
}

// AppScope is one scope the app asked for and where its request stands.
type AppScope struct {
	Scope     string             `json:"scope"`
	Status    events.GrantStatus `json:"status"`
	DecidedBy string             `json:"decided_by,omitempty"`
	DecidedAt *time.Time         `json:"decided_at,omitempty"`
	Reason    string             `json:"reason,omitempty"`
	// Approvals lists the admin actors who approved so far, for scopes
	// needing several approvals: each the root of its actor's chain
	// (events.Actor.Root).
	Approvals []string `json:"approvals,omitempty"`
	// RevokedAt is when the scope was last revoked: tokens issued until
	// then never carry it again, even once it is approved again
	// (ScopeGranted).
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// AppSecret is one client secret: its keyed hash, never the secret.
// ExpiresAt is nil while the secret has no end.
type AppSecret struct {
	ID        string     `json:"id"`
	Hash      string     `json:"hash"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	// HeldBy is the root actor (events.Actor.Root) that was handed the
	// secret: the app's creator or whoever rotated it in. Empty for the
	// system's own.
	HeldBy string `json:"held_by,omitempty"`
}

// ScopeApproved reports whether scope is approved for the app.
func (a App) ScopeApproved(scope string) bool {
	return slices.ContainsFunc(a.Scopes, func(s AppScope) bool { return s.Scope == scope && s.Status == events.GrantApproved })
}

// ScopeGranted reports whether a token of the app issued at iat (unix
// seconds, as the JWT's iat) may use scope: it is approved now and was not
// revoked since the token was issued. A token issued in the second of a
// revocation counts as issued before it: the kill switch errs on the side
// of staying thrown.
func (a App) ScopeGranted(scope string, iat int64) bool {
	return slices.ContainsFunc(a.Scopes, func(s AppScope) bool {
		return s.Scope == scope && s.Status == events.GrantApproved && !killedFor(s.RevokedAt, iat)
	})
}

// IssuedBeforeKill reports whether a token issued at iat predates the
// app's last deactivation (in the same second included): such a token
// stays dead after the app is reactivated.
func (a App) IssuedBeforeKill(iat int64) bool { return killedFor(a.DeactivatedAt, iat) }

// killedFor reports whether a token issued at iat is covered by a kill at
// at (nil: none).
func killedFor(at *time.Time, iat int64) bool { return at != nil && iat <= at.Unix() }

// Holders are the root actors holding a credential of the app at now: the
// app itself and whoever was handed one of its live secrets.
func (a App) Holders(now time.Time) []string {
	out := []string{a.ID}
	for _, s := range a.LiveSecrets(now) {
		if s.HeldBy != "" && !slices.Contains(out, s.HeldBy) {
			out = append(out, s.HeldBy)
		}
	}
	return out
}

// clone returns a copy of a that shares no slice with it (the raw JSON
// fields are never changed in place, so they are shared).
func (a App) clone() App {
	a.GrantTypes = slices.Clone(a.GrantTypes)
	a.RedirectURIs = slices.Clone(a.RedirectURIs)
	a.Secrets = slices.Clone(a.Secrets)
	a.Scopes = cloneGrants(a.Scopes)
	a.Grants = cloneGrants(a.Grants)
	a.RedirectURIApprovals = cloneGrants(a.RedirectURIApprovals)
	return a
}

func cloneGrants(gs []AppScope) []AppScope {
	gs = slices.Clone(gs)
	for i := range gs {
		gs[i].Approvals = slices.Clone(gs[i].Approvals)
	}
	return gs
}

var (
	_ = on(applyAppCreated)
	_ = on(applyAppUpdated)
	_ = on(applyAppDeleted)
)

func applyAppCreated(tx Tx, e events.Event, p *events.AppCreated) error {
	a := App{
		ID: e.Aggregate.ID, Tenant: e.Tenant(), AppSettings: p.AppSettings, Metadata: p.Metadata,
		Scopes: make([]AppScope, len(p.Scopes)), Secrets: []AppSecret{},
		CreatedAt: e.Time, CreatedBy: e.Actor.ID,
	}
	a.GrantTypes, a.RedirectURIs = orEmpty(a.GrantTypes), orEmpty(a.RedirectURIs)
	for i, g := range p.Scopes {
		a.Scopes[i] = AppScope{Scope: g.Scope, Status: g.Status}
	}
	a.syncApprovals()
	if p.SecretHash != "" {
		a.Secrets = append(a.Secrets, AppSecret{ID: p.SecretID, Hash: p.SecretHash, CreatedAt: e.Time, HeldBy: heldBy(e.Actor)})
	}
	return create(tx, e, KindApp, putApp, a)
}

func applyAppUpdated(tx Tx, e events.Event, p *events.AppUpdated) error {
	return changeApp(tx, e, func(a *App) {
		codeFlow := a.GrantEffective("authorization_code")
		setIf(&a.Name, p.Name)
		setIf(&a.TokenEndpointAuthMethod, p.TokenEndpointAuthMethod)
		setIf(&a.GrantTypes, p.GrantTypes)
		setIf(&a.RedirectURIs, p.RedirectURIs)
		setIf(&a.JWKS, p.JWKS)
		if p.Active != nil && !*p.Active && a.Active {
			at := e.Time
			a.DeactivatedAt = &at
		}
		setIf(&a.Active, p.Active)
		setIf(&a.AccessTokenTTLSeconds, p.AccessTokenTTLSeconds)
		setIf(&a.IDTokenSignedResponseAlg, p.IDTokenSignedResponseAlg)
		setIf(&a.Metadata, p.Metadata)
		a.GrantTypes, a.RedirectURIs = orEmpty(a.GrantTypes), orEmpty(a.RedirectURIs)
		a.syncApprovals()
		if codeFlow && !a.GrantEffective("authorization_code") {
			at := e.Time
			a.CodeFlowKilledAt = &at
		}
	})
}

func applyAppDeleted(tx Tx, e events.Event, _ *events.AppDeleted) error {
	if _, err := loadApp(tx, e); err != nil {
		return err
	}
	if err := tx.Delete(KindQuota, quotaID(e.Tenant(), events.QuotaWebhooks, e.Aggregate.ID)); err != nil {
		return err
	}
	return tx.Delete(KindApp, e.Aggregate.ID)
}

// heldBy is who an event's actor hands a new secret to: the root of its
// chain; the system keeps none.
func heldBy(a events.Actor) string {
	if a.Kind == events.ActorSystem {
		return ""
	}
	return a.Root()
}

// setIf sets *dst to *v when the event carries v.
func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// loadApp reads the app event e is about (loadView).
func loadApp(tx Tx, e events.Event) (App, error) { return loadView(tx, e, KindApp, App.clone) }

// changeApp applies f to the app event e is about and stores it.
func changeApp(tx Tx, e events.Event, f func(*App)) error { return change(tx, e, loadApp, putApp, f) }

// putApp stores a as of event e, its last. The client_id key must be free
// (a clash fails the apply: client ids are the server's own random
// values); the name key goes to the first app that has the name.
func putApp(tx Tx, e events.Event, a App) error {
	a.Version++
	a.LastSeq, a.UpdatedAt = e.Seq, e.Time
	d := Doc{Kind: KindApp, ID: a.ID, Tenant: a.Tenant, Sort: SortTime(a.CreatedAt)}
	if a.ClientID != "" {
		d.Keys = []string{"client_id:" + a.ClientID}
	}
	if err := claim(tx, &d, appNameKey(a.Tenant, a.Name)); err != nil {
		return err
	}
	return putCached(tx, d, a)
}

func appNameKey(tenant, name string) string {
	return "name:" + tenant + "/" + strings.ToLower(name)
}

// GetApp returns the app id of tenant. An app of another tenant is
// ErrNotFound like a missing one, so its existence does not leak.
func GetApp(ctx context.Context, r Reader, tenant, id string) (App, error) {
	return getTenantView(ctx, r, tenant, KindApp, id, App.clone)
}

// AppByClientID returns the app whose client_id is clientID, of any
// tenant (the token endpoint learns the tenant from the app), or
// ErrNotFound.
func AppByClientID(ctx context.Context, r Reader, clientID string) (App, error) {
	a, _, err := lookupCachedView(ctx, r, KindApp, "client_id:"+clientID, App.clone)
	return a, err
}

// AppByName returns tenant's app called name (compared without case), or
// ErrNotFound.
func AppByName(ctx context.Context, r Reader, tenant, name string) (App, error) {
	a, _, err := lookupCachedView(ctx, r, KindApp, appNameKey(tenant, name), App.clone)
	return a, err
}

// ListApps returns a page of tenant's apps, oldest first, and the cursor
// of the next page ("" on the last). A bad cursor or limit is ErrInvalid.
func ListApps(ctx context.Context, r Reader, tenant string, p Page) ([]App, string, error) {
	return listCachedViews(ctx, r, KindApp, tenant, p, App.clone)
}
