package projections

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// KindCredential is the document kind of upstream credentials (package
// vault, API.md "Upstream credentials (the vault)"), by credential id.
// Key: "name:<tenant>/<name>". Sort is the creation time. A deleted
// credential has no document (credential.deleted drops it, with its
// place in the refresh schedule).
const KindCredential = "credential"

// kindCredentialDue is the vault refresher's schedule: one document per
// credential that has a refresh coming (or a claim that may lapse), all
// in the partition dueTenant, sorted by when it is due. The refresher
// sleeps until the first one.
const kindCredentialDue = "credential_due"

// CredentialVersionsKept bounds the token sets a credential's document
// keeps (the newest; retention of versions and rollback targets).
const CredentialVersionsKept = 10

// Credential is an upstream credential as the server knows it. The
// sealed members (client secret, password, token sets) must never leave
// the server. Zero members are left out of the stored JSON (a document
// per credential, 100,000 of them in memory: issue 15).
type Credential struct {
	ID                   string   `json:"id"`
	Tenant               string   `json:"tenant"`
	Name                 string   `json:"name"`
	Provider             string   `json:"provider"`
	GrantType            string   `json:"grant_type"`
	ClientID             string   `json:"client_id"`
	Scopes               []string `json:"scopes"`
	AuthURL              string   `json:"auth_url,omitempty"`
	TokenURL             string   `json:"token_url"`
	RevocationURL        string   `json:"revocation_url,omitempty"`
	ScopeSeparator       string   `json:"scope_separator"`
	PKCE                 bool     `json:"pkce,omitempty"`
	RotatesRefreshTokens bool     `json:"rotates_refresh_tokens,omitempty"`
	Username             string   `json:"username,omitempty"`
	ClientSecretSealed   string   `json:"client_secret_sealed,omitempty"`
	PasswordSealed       string   `json:"password_sealed,omitempty"`
	BaseURL              string   `json:"base_url,omitempty"`
	CollectionID         string   `json:"collection_id,omitempty"`
	RefreshBeforeSeconds int      `json:"refresh_before_seconds"`
	Exchangeable         bool     `json:"exchangeable,omitempty"`
	Grants               []string `json:"grants"`
	// MTLSCertificateID: the certificate credential presented at the
	// token endpoint (RFC 8705).
	MTLSCertificateID string `json:"mtls_certificate_id,omitempty"`
	// HeaderTemplate is how the proxy injects the token (empty: the
	// default, "Authorization: Bearer {token}").
	HeaderTemplate string `json:"header_template,omitempty"`
	// OwnerUserID is the user whose own credential it is (empty: the
	// tenant's).
	OwnerUserID string `json:"owner_user_id,omitempty"`
	// Status is the status the log records (pending_authorization,
	// active, revoked, failed); see StatusAt for the one to show.
	Status events.CredentialStatus `json:"status"`
	// Versions are the newest token sets (at most CredentialVersionsKept),
	// oldest first; Current is the version in use (0: none).
	Versions []CredentialVersion `json:"versions"`
	Current  int                 `json:"current"`
	// LastVersion is the highest version ever stored (the next is +1).
	LastVersion     int        `json:"last_version"`
	LastRefreshedAt *time.Time `json:"last_refreshed_at,omitempty"`
	// NextRefreshAt is when the next refresh (or retry) is due; nil: none.
	NextRefreshAt *time.Time `json:"next_refresh_at,omitempty"`
	// RefreshAttempts counts every refresh attempted (claims);
	// ConsecutiveFailures the failures since the last success.
	RefreshAttempts     int    `json:"refresh_attempts,omitempty"`
	ConsecutiveFailures int    `json:"consecutive_failures,omitempty"`
	LastError           string `json:"last_error,omitempty"`
	// ClaimedBy and ClaimedUntil: the instance refreshing it now.
	ClaimedBy    string    `json:"claimed_by,omitempty"`
	ClaimedUntil time.Time `json:"claimed_until,omitzero"`
	// SupersededThrough: the versions up to this one were issued before a
	// change that needed reauthorization (events.CredentialUpdated
	// Reauthorize): none of them is used or rolled back to again.
	SupersededThrough int `json:"superseded_through,omitempty"`
	// ExpiringAlerted is the version credential.expiring was last sent for
	// (on the control document: the version the last alert carried).
	ExpiringAlerted int       `json:"expiring_alerted,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	// Version counts the credential's events a user sees change it (not
	// refresh claims): the API's "version" and ETag.
	Version uint64 `json:"version"`
	// LastSeq is the stream sequence of its last event: the events.Expect
	// of its next append.
	LastSeq uint64 `json:"last_seq"`
	// RefreshMoved: the refresh state is on the high-volume stream
	// (credential.refresh_moved); the control document schedules nothing
	// and later control events leave its refresh fields alone.
	RefreshMoved bool `json:"refresh_moved,omitempty"`

	// Set when read, from the refresh state (Overlay), never stored:
	// RefreshSeq is the sequence of the refresh aggregate's last event
	// (the Expect of its next append; 0: none yet), RefreshRevision the
	// state's Revision, RefreshAt its time, RetainSeconds its retention.
	RefreshSeq      uint64    `json:"-"`
	RefreshRevision uint64    `json:"-"`
	RefreshAt       time.Time `json:"-"`
	RetainSeconds   int64     `json:"-"`
	// ExpiringAlertAt: when credential.expiring is due for a current token
	// set no refresh replaces (events.CredentialRefreshState).
	ExpiringAlertAt *time.Time `json:"-"`
}

// CredentialVersion is one stored token set: as the events carry it.
type CredentialVersion = events.CredentialTokenSet

// CurrentVersion returns the token set in use (false: none).
func (c Credential) CurrentVersion() (CredentialVersion, bool) {
	return c.FindVersion(c.Current)
}

// FindVersion returns the kept token set v.
func (c Credential) FindVersion(v int) (CredentialVersion, bool) {
	for _, x := range c.Versions {
		if x.Version == v {
			return x, true
		}
	}
	return CredentialVersion{}, false
}

// ExpiresAt is when the current token set expires (nil: unknown/never).
func (c Credential) ExpiresAt() *time.Time {
	if v, ok := c.CurrentVersion(); ok {
		return v.ExpiresAt
	}
	return nil
}

// StatusAt is the status to show at now: an active credential whose
// token set expires within its refresh lead (RefreshLead) is expiring_soon, and one
// whose token set has expired is expired.
func (c Credential) StatusAt(now time.Time) events.CredentialStatus {
	if c.Status != events.CredentialStatusActive {
		return c.Status
	}
	v, ok := c.CurrentVersion()
	if !ok || v.ExpiresAt == nil {
		return c.Status
	}
	exp := *v.ExpiresAt
	switch {
	case !now.Before(exp):
		return events.CredentialStatusExpired
	case now.Add(c.RefreshLead(v)).After(exp):
		return events.CredentialStatusExpiringSoon
	}
	return c.Status
}

// RefreshLead is how long before v expires it is refreshed:
// RefreshBeforeSeconds, at most half of v's life (a token living 60 s is
// refreshed after 30 s whatever the setting).
func (c Credential) RefreshLead(v CredentialVersion) time.Duration {
	lead := time.Duration(c.RefreshBeforeSeconds) * time.Second
	if v.ExpiresAt != nil {
		lead = min(lead, v.ExpiresAt.Sub(v.CreatedAt)/2)
	}
	return lead
}

func (c Credential) clone() Credential {
	c.Scopes = slices.Clone(c.Scopes)
	c.Grants = slices.Clone(c.Grants)
	c.Versions = slices.Clone(c.Versions)
	return c
}

// NewCredential is credential id of tenant as its credential.created p,
// appended at at, makes it: pending authorization, no token set yet. The
// projection stores it so; the vault uses it for the token request and
// the authorization state a create makes before anything is stored.
func NewCredential(id, tenant string, p events.CredentialCreated, at time.Time) Credential {
	return Credential{
		ID: id, Tenant: tenant, Name: p.Name, Provider: p.Provider, GrantType: p.GrantType, ClientID: p.ClientID,
		Scopes: orEmpty(p.Scopes), AuthURL: p.AuthURL, TokenURL: p.TokenURL, RevocationURL: p.RevocationURL, ScopeSeparator: p.ScopeSeparator,
		PKCE: p.PKCE, RotatesRefreshTokens: p.RotatesRefreshTokens, Username: p.Username, ClientSecretSealed: p.ClientSecretSealed,
		PasswordSealed: p.PasswordSealed, BaseURL: p.BaseURL, CollectionID: p.CollectionID, RefreshBeforeSeconds: p.RefreshBeforeSeconds,
		Exchangeable: p.Exchangeable, Grants: orEmpty(p.Grants), MTLSCertificateID: p.MTLSCertificateID, HeaderTemplate: p.HeaderTemplate,
		OwnerUserID: p.OwnerUserID, Status: events.CredentialStatusPending, Versions: []CredentialVersion{}, CreatedAt: at,
	}
}

// DueCredential is an entry of the refresh schedule.
type DueCredential struct {
	ID     string    `json:"id"`
	Tenant string    `json:"tenant"`
	Due    time.Time `json:"due"`
}

var (
	_ = on(func(tx Tx, e events.Event, p *events.CredentialCreated) error {
		if err := createsView(tx, e, KindCredential); err != nil {
			return err
		}
		return putCredential(tx, e, true, NewCredential(e.Aggregate.ID, e.Tenant(), *p, e.Time))
	})
	_ = on(func(tx Tx, e events.Event, p *events.CredentialUpdated) error {
		return changeCredential(tx, e, true, func(c *Credential) {
			setIf(&c.Name, p.Name)
			setIf(&c.Scopes, p.Scopes)
			setIf(&c.ClientSecretSealed, p.ClientSecretSealed)
			setIf(&c.BaseURL, p.BaseURL)
			setIf(&c.CollectionID, p.CollectionID)
			setIf(&c.RefreshBeforeSeconds, p.RefreshBeforeSeconds)
			setIf(&c.Exchangeable, p.Exchangeable)
			setIf(&c.Grants, p.Grants)
			setIf(&c.HeaderTemplate, p.HeaderTemplate)
			setIf(&c.ClientID, p.ClientID)
			setIf(&c.AuthURL, p.AuthURL)
			setIf(&c.TokenURL, p.TokenURL)
			c.Scopes, c.Grants = orEmpty(c.Scopes), orEmpty(c.Grants)
			if p.Reauthorize {
				c.Status, c.Current, c.NextRefreshAt = events.CredentialStatusPending, 0, nil
				c.SupersededThrough = max(c.LastVersion, p.SupersededThrough)
				c.ConsecutiveFailures, c.LastError = 0, ""
			}
		})
	})
	_ = on(func(tx Tx, e events.Event, _ *events.CredentialDeleted) error {
		// The refresh state (high-volume stream) stays until the refresher
		// ends it (credential_refresh.snapshot, Ended) or the log forgets it.
		if _, err := loadCredential(tx, e); err != nil {
			return err
		}
		if err := tx.Delete(kindCredentialDue, e.Aggregate.ID); err != nil && !isNotFound(err) {
			return err
		}
		if err := dropCredentialUsage(tx, e.Aggregate.ID); err != nil {
			return err
		}
		return tx.Delete(KindCredential, e.Aggregate.ID)
	})
	_ = on(func(tx Tx, e events.Event, p *events.CredentialRefreshClaimed) error {
		return changeRefresh(tx, e, false, func(c *Credential) {
			c.ClaimedBy, c.ClaimedUntil = p.Instance, p.Until
			c.RefreshAttempts++
		})
	})
	_ = on(func(tx Tx, e events.Event, p *events.CredentialTokensStored) error {
		return changeRefresh(tx, e, true, func(c *Credential) {
			c.Versions = append(c.Versions, CredentialVersion{
				Version: p.Version, CreatedAt: e.Time, ExpiresAt: p.ExpiresAt, RefreshAt: p.RefreshAt, Scopes: orEmpty(p.Scopes),
				Reason: p.Reason, TokenType: p.TokenType, HasRefreshToken: p.HasRefreshToken, TokensSealed: p.TokensSealed,
			})
			if n := len(c.Versions); n > CredentialVersionsKept {
				c.Versions = slices.Clone(c.Versions[n-CredentialVersionsKept:])
			}
			c.Current, c.LastVersion = p.Version, max(c.LastVersion, p.Version)
			at := e.Time
			c.Status, c.LastRefreshedAt, c.NextRefreshAt = events.CredentialStatusActive, &at, p.RefreshAt
			c.ConsecutiveFailures, c.LastError = 0, ""
			c.ClaimedBy, c.ClaimedUntil = "", time.Time{}
		})
	})
	_ = on(func(tx Tx, e events.Event, p *events.CredentialRefreshFailed) error {
		return changeRefresh(tx, e, true, func(c *Credential) {
			c.ConsecutiveFailures++
			c.LastError = p.Error
			if p.ErrorDescription != "" {
				c.LastError += ": " + p.ErrorDescription
			}
			c.NextRefreshAt = p.NextAttemptAt
			if p.Failed {
				c.Status, c.NextRefreshAt = events.CredentialStatusFailed, nil
			}
			c.ClaimedBy, c.ClaimedUntil = "", time.Time{}
		})
	})
	_ = on(func(tx Tx, e events.Event, p *events.CredentialRevoked) error {
		return changeRefresh(tx, e, true, func(c *Credential) {
			c.Status, c.NextRefreshAt = events.CredentialStatusRevoked, nil
			c.LastError = p.Error
			if p.ErrorDescription != "" {
				c.LastError += ": " + p.ErrorDescription
			}
			c.ClaimedBy, c.ClaimedUntil = "", time.Time{}
		})
	})
	_ = on(func(tx Tx, e events.Event, p *events.CredentialExpiring) error {
		if p.Version > 0 {
			// The alert's own record, kept whichever stream holds the state:
			// the vault appends it once per token set (vault.upkeep).
			return changeCredential(tx, e, false, func(c *Credential) { c.ExpiringAlerted = p.Version })
		}
		return changeRefresh(tx, e, false, func(c *Credential) { c.ExpiringAlerted = c.Current })
	})
	_ = on(func(tx Tx, e events.Event, p *events.CredentialRolledBack) error {
		return changeRefresh(tx, e, true, func(c *Credential) {
			v, ok := c.FindVersion(p.Version)
			if !ok {
				return // the command checked; a broken log changes nothing
			}
			c.Current, c.NextRefreshAt = v.Version, v.RefreshAt
			c.Status, c.ConsecutiveFailures, c.LastError = events.CredentialStatusActive, 0, ""
		})
	})
	_ = on(func(tx Tx, e events.Event, _ *events.CredentialRefreshMoved) error {
		return changeCredential(tx, e, false, func(c *Credential) {
			c.RefreshMoved, c.NextRefreshAt, c.ClaimedBy, c.ClaimedUntil = true, nil, "", time.Time{}
		})
	})
)

// changeRefresh applies a control event of the refresh state (the
// older events, and the alerts, which the refresher still appends there):
// once the state moved to the high-volume stream they change nothing but
// the control document's last sequence.
func changeRefresh(tx Tx, e events.Event, visible bool, change func(*Credential)) error {
	c, err := loadCredential(tx, e)
	if err != nil {
		return err
	}
	if c.RefreshMoved {
		return putCredential(tx, e, false, c)
	}
	change(&c)
	return putCredential(tx, e, visible, c)
}

// changeCredential applies f to the credential event e is about and
// stores it (visible: the change moves the API's version).
func changeCredential(tx Tx, e events.Event, visible bool, f func(*Credential)) error {
	return change(tx, e, loadCredential, func(tx Tx, e events.Event, c Credential) error {
		return putCredential(tx, e, visible, c)
	}, f)
}

// loadCredential reads the credential event e is about; a missing one,
// or one of another tenant, is a broken log.
func loadCredential(tx Tx, e events.Event) (Credential, error) {
	return loadView(tx, e, KindCredential, Credential.clone)
}

// putCredential stores c as of event e (visible: it moves the API's
// version) and its place in the refresh schedule: a live claim is due
// when it lapses, otherwise the next refresh.
func putCredential(tx Tx, e events.Event, visible bool, c Credential) error {
	if visible {
		c.Version++
	}
	c.LastSeq, c.UpdatedAt = e.Seq, e.Time
	var keys []string
	key := credentialNameKey(c.Tenant, c.OwnerUserID, c.Name)
	ok, err := claimable(tx, KindCredential, key, c.ID)
	if err != nil {
		return err
	}
	if ok {
		keys = append(keys, key)
	}
	var due *time.Time
	switch {
	case c.RefreshMoved: // the refresh state's own schedule has it
	case c.ClaimedBy != "":
		due = &c.ClaimedUntil
	case c.NextRefreshAt != nil:
		due = c.NextRefreshAt
	}
	if due == nil {
		if err := tx.Delete(kindCredentialDue, c.ID); err != nil && !isNotFound(err) {
			return err
		}
	} else if err := putJSON(tx, Doc{Kind: kindCredentialDue, ID: c.ID, Tenant: dueTenant, Sort: SortTime(*due)},
		DueCredential{ID: c.ID, Tenant: c.Tenant, Due: *due}); err != nil {
		return err
	}
	return putCached(tx, Doc{Kind: KindCredential, ID: c.ID, Tenant: c.Tenant, Sort: SortTime(c.CreatedAt), Keys: keys}, c)
}

// credentialNameKey is a credential's unique key: its name in the
// tenant, or among its owner's credentials for a user's own, in lower
// case, as names are unique (events.NameRef) and apps' are found.
func credentialNameKey(tenant, owner, name string) string {
	return legacyCredentialNameKey(tenant, owner, strings.ToLower(name))
}

// legacyCredentialNameKey is the key as builds before it was in lower
// case wrote it: the name as it is. A PostgreSQL projection keeps such
// keys until its credential changes or the projections are rebuilt, so a
// name not found in lower case is looked up as written too.
func legacyCredentialNameKey(tenant, owner, name string) string {
	if owner != "" {
		return "username:" + tenant + "/" + owner + "/" + name
	}
	return "name:" + tenant + "/" + name
}

// CredentialByName returns tenant's credential called name, whatever its
// case: the tenant's own (owner "") or user owner's own; ErrNotFound when
// there is none.
func CredentialByName(ctx context.Context, r Reader, tenant, owner, name string) (Credential, error) {
	c, _, err := lookupCachedView(ctx, r, KindCredential, credentialNameKey(tenant, owner, name), Credential.clone)
	if isNotFound(err) && strings.ToLower(name) != name {
		c, _, err = lookupCachedView(ctx, r, KindCredential, legacyCredentialNameKey(tenant, owner, name), Credential.clone)
	}
	if err != nil {
		return c, err
	}
	return merge(ctx, r, c)
}

// GetCredential returns credential id of tenant; another tenant's is
// ErrNotFound like a missing one.
func GetCredential(ctx context.Context, r Reader, tenant, id string) (Credential, error) {
	c, d, err := getCachedView(ctx, r, KindCredential, id, Credential.clone)
	if err == nil && d.Tenant != tenant {
		return Credential{}, NotFound("credential", id)
	}
	if err != nil {
		return c, err
	}
	return merge(ctx, r, c)
}

// ListCredentials returns a page of tenant's credentials, oldest first.
func ListCredentials(ctx context.Context, r Reader, tenant string, p Page) ([]Credential, string, error) {
	cs, next, err := listViews[Credential](ctx, r, KindCredential, tenant, p)
	if err != nil {
		return nil, "", err
	}
	for i := range cs {
		if cs[i], err = merge(ctx, r, cs[i]); err != nil {
			return nil, "", err
		}
	}
	return cs, next, nil
}

// DueCredentials returns up to limit entries of the refresh schedules
// (the control documents' and the refresh states') due at or before now,
// earliest first.
func DueCredentials(ctx context.Context, r Reader, now time.Time, limit int) ([]DueCredential, error) {
	a, err := dueBy[DueCredential](ctx, r, kindCredentialDue, now, limit)
	if err != nil {
		return nil, err
	}
	b, err := dueBy[DueCredential](ctx, r, kindCredentialRefreshDue, now, limit)
	if err != nil {
		return nil, err
	}
	out := append(a, b...)
	slices.SortStableFunc(out, func(x, y DueCredential) int { return x.Due.Compare(y.Due) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// NextCredentialDue returns when the refresh schedules' first entry is
// due (false: nothing scheduled).
func NextCredentialDue(ctx context.Context, r Reader) (time.Time, bool, error) {
	a, okA, err := firstDue[DueCredential](ctx, r, kindCredentialDue)
	if err != nil {
		return a, false, err
	}
	b, okB, err := firstDue[DueCredential](ctx, r, kindCredentialRefreshDue)
	if err != nil {
		return b, false, err
	}
	switch {
	case okA && okB:
		if b.Before(a) {
			return b, true, nil
		}
		return a, true, nil
	case okB:
		return b, true, nil
	}
	return a, okA, nil
}

func (d DueCredential) dueAt() time.Time { return d.Due }

// KindVaultKey is the document kind of tenants' vault encryption keys
// (events.VaultKeyCreated), by tenant id.
const KindVaultKey = "vault_key"

// VaultKey is a tenant's HPKE key pair, as vault_key.created carries it;
// the sealed private key never leaves the server.
type VaultKey struct {
	Tenant string `json:"tenant"`
	events.VaultKeyCreated
	LastSeq uint64 `json:"last_seq"`
}

var _ = on(func(tx Tx, e events.Event, p *events.VaultKeyCreated) error {
	return putJSON(tx, Doc{Kind: KindVaultKey, ID: e.Tenant(), Tenant: e.Tenant(), Sort: SortTime(e.Time)}, VaultKey{
		Tenant: e.Tenant(), VaultKeyCreated: *p, LastSeq: e.Seq,
	})
})

// GetVaultKey returns tenant's vault key, or ErrNotFound before its first.
func GetVaultKey(ctx context.Context, r Reader, tenant string) (VaultKey, error) {
	k, _, err := getView[VaultKey](ctx, r, KindVaultKey, tenant)
	return k, err
}
