package authz

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

func appRef(tenant, id string) events.Ref {
	return events.Ref{Tenant: tenant, Type: events.AggApp, ID: id}
}

// appCommand creates an app.
type appCommand struct {
	p     oauth.Principal
	id    string
	event *events.AppCreated
	now   time.Time
}

func newAppCommand(p oauth.Principal, s appShape, req createAppRequest, grants []events.ScopeGrant, secretHash string, now time.Time) *appCommand {
	active := true
	if req.Active != nil {
		active = *req.Active
	}
	cmd := &appCommand{p: p, id: events.NewID("app"), now: now, event: &events.AppCreated{
		AppSettings: events.AppSettings{
			ClientID:                events.NewID("cl"),
			Name:                    s.Name,
			GrantTypes:              s.GrantTypes,
			RedirectURIs:            s.RedirectURIs,
			TokenEndpointAuthMethod: s.AuthMethod,
			JWKS:                    s.JWKS,
			Active:                  active,
			AccessTokenTTLSeconds:   s.TTL,
		},
		Metadata:   nullToEmpty(s.Metadata),
		Scopes:     grants,
		SecretID:   secretID(secretHash),
		SecretHash: secretHash,
	}}
	setIf(&cmd.event.IDTokenSignedResponseAlg, s.IDTokenAlg)
	return cmd
}

// secretID is the id of a new secret of hash, none without a secret.
func secretID(hash string) string {
	if hash == "" {
		return ""
	}
	return events.NewID("sec")
}

// nullToEmpty drops a JSON null so "metadata": null reads as absent.
func nullToEmpty(m json.RawMessage) json.RawMessage {
	if string(m) == "null" {
		return nil
	}
	return m
}

// create claims the name and appends app.created, atomically.
func (c *appCommand) create(ctx context.Context, r projections.Reader) (events.Append, string, error) {
	claim, err := projections.GetNameClaim(ctx, r, c.p.Tenant, nsAppName, c.event.Name)
	if err != nil {
		return events.Append{}, "", err
	}
	if claim.Owner != "" {
		return events.Append{}, "", httpapi.Conflict(fmt.Sprintf("an app named %q already exists in this tenant", c.event.Name))
	}
	claimed := events.ClaimName(c.p.Tenant, nsAppName, c.event.Name, c.id)
	evs, err := events.NewAll(oauth.ActorOf(c.p), c.now, claimed,
		events.Change{Ref: appRef(c.p.Tenant, c.id), Payload: c.event})
	if err != nil {
		return events.Append{}, "", err
	}
	return events.Append{Events: evs, Expect: []events.Expect{
		{Ref: claimed.Ref, Seq: claim.LastSeq},
		{Ref: appRef(c.p.Tenant, c.id)},
	}}, c.id, nil
}

// current reads the app a command changes, as of this attempt.
func current(ctx context.Context, r projections.Reader, p oauth.Principal, id string, match uint64) (projections.App, error) {
	return Current(ctx, "app", func(ctx context.Context) (projections.App, error) {
		return projections.GetApp(ctx, r, p.Tenant, id)
	}, func(app projections.App) uint64 { return app.Version }, match)
}

// currentManaged is current for a change of the app's settings or
// credentials: p must be allowed to manage it (mayManage).
func currentManaged(ctx context.Context, r projections.Reader, p oauth.Principal, id string, match uint64) (projections.App, error) {
	app, err := current(ctx, r, p, id, match)
	if err != nil {
		return app, err
	}
	return app, mayManage(p, app)
}

// patchCommand changes an app's settings.
type patchCommand struct {
	p     oauth.Principal
	id    string
	req   patchAppRequest
	match uint64
	now   time.Time
	// clock is the server's, for waitPastKill on reactivation.
	clock func() time.Time
	// idAlgs are the server's ID-token algorithms.
	idAlgs []string
	// secretHash is the hash of the secret a switch to a secret method
	// gives an app that has none; issuedSecret is set by the attempt that
	// appended it, so the answer shows the secret.
	secretHash   string
	issuedSecret bool
}

func (c *patchCommand) decide(ctx context.Context, r projections.Reader) (events.Append, string, error) {
	app, err := currentManaged(ctx, r, c.p, c.id, c.match)
	if err != nil {
		return events.Append{}, "", err
	}
	upd, shape := c.merge(app)
	if fe := shape.validate(); len(fe) > 0 {
		return events.Append{}, "", httpapi.Validation(fe...)
	}
	if upd.Active != nil && *upd.Active && !app.Active {
		if err := waitPastKill(ctx, c.clock, app.DeactivatedAt); err != nil {
			return events.Append{}, "", err
		}
	}
	ref := appRef(c.p.Tenant, c.id)
	pairs := append([]events.Change{{Ref: ref, Payload: upd}}, c.secretEvents(app, ref)...)
	expect := []events.Expect{{Ref: ref, Seq: app.LastSeq}}
	if upd.Name != nil && *upd.Name != app.Name {
		np, nx, err := renameClaims(ctx, r, c.p.Tenant, c.id, app.Name, *upd.Name)
		if err != nil {
			return events.Append{}, "", err
		}
		pairs, expect = append(pairs, np...), append(expect, nx...)
	}
	evs, err := events.NewAll(oauth.ActorOf(c.p), c.now, pairs...)
	if err != nil {
		return events.Append{}, "", err
	}
	return events.Append{Events: evs, Expect: expect}, c.id, nil
}

// secretEvents are what a change of token_endpoint_auth_method does to the
// app's secrets, in the same append: leaving the secret methods revokes
// every secret (an app of private_key_jwt or none has none); joining them
// without a live secret issues one, which the PATCH answer shows once
// (as the create answer does). Between client_secret_basic and
// client_secret_post nothing changes: both take the same secrets.
func (c *patchCommand) secretEvents(app projections.App, ref events.Ref) []events.Change {
	c.issuedSecret = false
	m := c.req.TokenEndpointAuthMethod
	if m == nil || *m == app.TokenEndpointAuthMethod {
		return nil
	}
	var out []events.Change
	if !usesSecret(*m) {
		for _, s := range app.Secrets {
			out = append(out, events.Change{Ref: ref, Payload: &events.AppSecretRevoked{SecretID: s.ID}})
		}
		return out
	}
	if len(app.LiveSecrets(c.now)) == 0 && c.secretHash != "" {
		c.issuedSecret = true
		out = append(out, events.Change{Ref: ref, Payload: &events.AppSecretRotated{SecretID: events.NewID("sec"), SecretHash: c.secretHash, PreviousExpiresAt: c.now.UTC()}})
	}
	return out
}

// merge applies the PATCH to app: the event to append and the resulting
// shape to validate.
func (c *patchCommand) merge(app projections.App) (*events.AppUpdated, appShape) {
	r := c.req
	s := appShape{Name: app.Name, GrantTypes: app.GrantTypes, RedirectURIs: app.RedirectURIs,
		AuthMethod: app.TokenEndpointAuthMethod, JWKS: app.JWKS, TTL: app.AccessTokenTTLSeconds,
		IDTokenAlg: r.IDTokenSignedResponseAlg, IDTokenAlgs: c.idAlgs}
	upd := &events.AppUpdated{Name: r.Name, GrantTypes: r.GrantTypes, RedirectURIs: r.RedirectURIs,
		Active: r.Active, AccessTokenTTLSeconds: r.AccessTokenTTLSeconds, Metadata: r.Metadata, JWKS: r.JWKS,
		TokenEndpointAuthMethod: r.TokenEndpointAuthMethod, IDTokenSignedResponseAlg: r.IDTokenSignedResponseAlg}
	setIf(&s.Name, r.Name)
	setIf(&s.AuthMethod, r.TokenEndpointAuthMethod)
	setIf(&s.GrantTypes, r.GrantTypes)
	setIf(&s.RedirectURIs, r.RedirectURIs)
	setIf(&s.TTL, r.AccessTokenTTLSeconds)
	setIf(&s.JWKS, r.JWKS)
	setIf(&s.Metadata, r.Metadata)
	return upd, s
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// renameClaims releases the old name and claims the new one.
func renameClaims(ctx context.Context, r projections.Reader, tenant, id, oldName, newName string) ([]events.Change, []events.Expect, error) {
	claim, err := projections.GetNameClaim(ctx, r, tenant, nsAppName, newName)
	if err != nil {
		return nil, nil, err
	}
	if claim.Owner != "" && claim.Owner != id {
		return nil, nil, httpapi.Conflict(fmt.Sprintf("an app named %q already exists in this tenant", newName))
	}
	released, claimed := events.ReleaseName(tenant, nsAppName, oldName, id), events.ClaimName(tenant, nsAppName, newName, id)
	if released.Ref == claimed.Ref { // only the case changed
		return []events.Change{claimed}, nil, nil
	}
	return []events.Change{released, claimed}, []events.Expect{{Ref: claimed.Ref, Seq: claim.LastSeq}}, nil
}

// deleteCommand removes an app and frees its name.
type deleteCommand struct {
	p     oauth.Principal
	id    string
	match uint64
	now   time.Time
}

func (c *deleteCommand) decide(ctx context.Context, r projections.Reader) (events.Append, string, error) {
	app, err := currentManaged(ctx, r, c.p, c.id, c.match)
	if err != nil {
		return events.Append{}, "", err
	}
	ref := appRef(c.p.Tenant, c.id)
	evs, err := events.NewAll(oauth.ActorOf(c.p), c.now,
		events.Change{Ref: ref, Payload: &events.AppDeleted{ClientID: app.ClientID}},
		events.ReleaseName(c.p.Tenant, nsAppName, app.Name, c.id))
	if err != nil {
		return events.Append{}, "", err
	}
	return events.Append{Events: evs, Expect: []events.Expect{{Ref: ref, Seq: app.LastSeq}}}, c.id, nil
}

// toAppJSON renders the App object; secrets show only id and times.
func toAppJSON(app projections.App) AppView {
	out := AppView{
		ID: app.ID, AppSettings: app.AppSettings,
		Metadata: app.Metadata, CreatedAt: app.CreatedAt, UpdatedAt: app.UpdatedAt,
		CreatedBy: app.CreatedBy, Version: app.Version,
		Scopes: make([]ScopeView, len(app.Scopes)), Secrets: make([]SecretView, len(app.Secrets)),
	}
	if len(out.Metadata) == 0 {
		out.Metadata = json.RawMessage("{}")
	}
	for i, s := range app.Scopes {
		out.Scopes[i] = ScopeView{Scope: s.Scope, ApprovalView: approvalOf(s)}
	}
	out.Grants = make([]GrantView, len(app.Grants))
	for i, g := range app.Grants {
		out.Grants[i] = GrantView{GrantType: g.Scope, ApprovalView: approvalOf(g)}
	}
	out.RedirectURIApprovals = make([]RedirectURIView, len(app.RedirectURIApprovals))
	for i, u := range app.RedirectURIApprovals {
		out.RedirectURIApprovals[i] = RedirectURIView{RedirectURI: u.Scope, ApprovalView: approvalOf(u)}
	}
	for i, s := range app.Secrets {
		out.Secrets[i] = SecretView{ID: s.ID, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt}
	}
	return out
}
