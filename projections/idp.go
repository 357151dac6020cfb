package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// The identity provider's read models (package idp): browser sessions,
// consents, and authorization grants (a code and its refresh-token
// family).

// Document kinds of the identity provider.
const (
	// KindSession is a live browser session, by its id (the HMAC of its
	// cookie's secret). It is dropped when it ends or expires.
	KindSession = "session"
	// KindConsent is a user's consents, one document per user (by user
	// id); user.deleted drops it.
	KindConsent = "consent"
	// KindGrant is an authorization grant, by grant id. Keys:
	// "code:<code hash>" and "refresh:<hash>" for every refresh token of
	// its family, used or live. It expires with the last thing it guards.
	KindGrant = "authz_grant"
	// KindUsedRefresh is a used refresh token of a family, by its hash:
	// the grant it belongs to, so that its reuse is recognised. One small
	// document per used token keeps the grant's own document (read and
	// rewritten at every rotation) from growing with the family's age. It
	// expires with the grant.
	KindUsedRefresh = "authz_refresh_used"
	// KindGrantToken is an access token a grant issued, by
	// "<grant id>/<jti>", sorted by grant id (EachGrantToken lists a
	// grant's): what a revocation of the grant revokes. One small
	// document per token keeps the grant's own from growing with the rate
	// of its rotations (a family refreshed 25 times a second held
	// thousands of live tokens). It expires with its token.
	KindGrantToken = "authz_token"
)

// grantToken is a KindGrantToken document.
type grantToken struct {
	JTI       string    `json:"jti"`
	ExpiresAt time.Time `json:"expires_at"`
}

// usedRefresh is a KindUsedRefresh document.
type usedRefresh struct {
	GrantID string `json:"grant_id"`
}

// Session is a browser session: its session.started as the event
// carries it.
type Session struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	events.SessionStarted
	LastSeq uint64 `json:"last_seq"`
}

// Consent is what a user let one app have (consent.granted) and when.
type Consent struct {
	events.ConsentGranted
	GrantedAt time.Time `json:"granted_at"`
}

// Consents are a user's consents by app id.
type Consents struct {
	Tenant  string             `json:"tenant"`
	UserID  string             `json:"user_id"`
	Apps    map[string]Consent `json:"apps"`
	LastSeq uint64             `json:"last_seq"`
}

// Grant is an authorization grant: the code's request, its redemption,
// the refresh-token family and the access tokens issued.
type Grant struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	events.AuthCodeIssued
	Redeemed bool `json:"redeemed"`
	// Tokens are the access tokens issued (jti → expiry) that grants
	// recorded before KindGrantToken hold; since, each is a document of
	// its own (EachGrantToken reads both) and TokensUntil is the last
	// one's expiry.
	Tokens      map[string]time.Time `json:"tokens"`
	TokensUntil time.Time            `json:"tokens_until,omitzero"`
	// Refresh is the live refresh token's hash ("" for none). Used holds
	// the used ones' hashes of grants recorded before KindUsedRefresh;
	// since, each used hash is a document of its own (GrantByRefresh
	// reads both) and Rotations counts them.
	Refresh          string     `json:"refresh,omitempty"`
	Used             []string   `json:"used,omitempty"`
	Rotations        int        `json:"rotations,omitempty"`
	RefreshExpiresAt *time.Time `json:"refresh_expires_at,omitempty"`
	LastUsed         time.Time  `json:"last_used"`
	// LastJTI is the access token of the last redemption or rotation
	// the log accepted: the one token request that won (see Won).
	LastJTI string `json:"last_jti,omitempty"`
	Revoked string `json:"revoked,omitempty"`
	LastSeq uint64 `json:"last_seq"`
}

// Won reports whether the redemption or rotation that issued access
// token jti is the one the log accepted (the first use of the code or of
// the refresh token): the token request that wrote it answers 200, any
// other invalid_grant. A later use does not take it back (it revokes the
// family: the winner's tokens die, as after any reuse).
func (g Grant) Won(jti string) bool { return jti != "" && g.LastJTI == jti }

func (g Grant) clone() Grant {
	g.RequestedScopes = slices.Clone(g.RequestedScopes)
	g.GrantedScopes = slices.Clone(g.GrantedScopes)
	g.Tokens = maps.Clone(g.Tokens)
	g.Used = slices.Clone(g.Used)
	if g.RefreshExpiresAt != nil {
		exp := *g.RefreshExpiresAt
		g.RefreshExpiresAt = &exp
	}
	return g
}

// forChange copies g for changeGrant, whose changes replace g's slices
// and pointers (never change what they point to) but for Tokens, which
// it trims: only Tokens is copied, and only when it holds any (grants
// since KindGrantToken hold none). The rest stays shared with the cached
// view, which nobody changes either (readers get clones). Copying the
// scopes and the expiry at every rotation was 4 of its allocations.
func (g Grant) forChange() Grant {
	if len(g.Tokens) > 0 {
		g.Tokens = maps.Clone(g.Tokens)
	}
	return g
}

// reuse revokes g for a second use of its code or of a used refresh
// token (reason), unless it is revoked already, and returns its live
// refresh token's hash, now used ("" for none).
func (g *Grant) reuse(reason string) string {
	if g.Revoked != "" {
		return ""
	}
	used := g.Refresh
	g.Revoked, g.Refresh = reason, ""
	return used
}

var (
	_ = on(func(tx Tx, e events.Event, p *events.SessionStarted) error {
		s := Session{ID: e.Aggregate.ID, Tenant: e.Tenant(), SessionStarted: *p, LastSeq: e.Seq}
		if err := putDoc(tx, Doc{Kind: KindSession, ID: s.ID, Tenant: s.Tenant, Sort: SortTime(e.Time)}, s); err != nil {
			return err
		}
		return ExpireAt(tx, events.HighVolume, KindSession, s.ID, p.ExpiresAt)
	})
	_ = on(func(tx Tx, e events.Event, _ *events.SessionEnded) error {
		if err := tx.Delete(KindSession, e.Aggregate.ID); err != nil {
			return err
		}
		return KeepForever(tx, KindSession, e.Aggregate.ID)
	})
	_ = on(func(tx Tx, e events.Event, p *events.ConsentGranted) error {
		return changeConsents(tx, e, func(c *Consents) {
			g := *p
			g.Scopes = slices.Clone(p.Scopes)
			c.Apps[p.AppID] = Consent{ConsentGranted: g, GrantedAt: e.Time}
		})
	})
	_ = on(func(tx Tx, e events.Event, p *events.ConsentWithdrawn) error {
		return changeConsents(tx, e, func(c *Consents) { delete(c.Apps, p.AppID) })
	})
	_ = on(func(tx Tx, e events.Event, p *events.AuthCodeIssued) error {
		g := Grant{ID: e.Aggregate.ID, Tenant: e.Tenant(), AuthCodeIssued: *p, Tokens: map[string]time.Time{}}
		return putGrant(tx, e, g, p.ExpiresAt, nil)
	})
	// The log orders the uses of a code or a refresh token (they are
	// group-committed, not conditional appends; see idp): the first
	// redemption of a code and the first rotation of the live refresh
	// token are accepted; a later one, or one of a revoked grant, is a
	// reuse and revokes the grant, here, the same on every instance and
	// at every replay. Logs written when these were conditional appends
	// hold no such event.
	_ = on(func(tx Tx, e events.Event, p *events.AuthCodeRedeemed) error {
		return changeGrant(tx, e, func(g *Grant) string {
			if g.Redeemed || g.Revoked != "" {
				return g.reuse(events.GrantRevokedCodeReuse)
			}
			g.Redeemed, g.LastUsed, g.LastJTI = true, e.Time, p.JTI
			g.Refresh, g.RefreshExpiresAt = p.RefreshHash, p.RefreshExpiresAt
			return ""
		}, p.JTI, p.AccessExpiresAt)
	})
	_ = on(func(tx Tx, e events.Event, p *events.RefreshRotated) error {
		return changeGrant(tx, e, func(g *Grant) string {
			if g.Revoked != "" || g.Refresh != p.OldHash {
				return g.reuse(events.GrantRevokedRefreshReuse)
			}
			g.Refresh, g.RefreshExpiresAt, g.LastUsed, g.LastJTI = p.NewHash, p.RefreshExpiresAt, e.Time, p.JTI
			g.Rotations++
			return p.OldHash
		}, p.JTI, p.AccessExpiresAt)
	})
	// A grant is revoked once: a second revocation (two instances at
	// once) changes nothing, the first reason stays.
	_ = on(func(tx Tx, e events.Event, p *events.GrantRevoked) error {
		return changeGrant(tx, e, func(g *Grant) string { return g.reuse(p.Reason) }, "", time.Time{})
	})
)

func putDoc(tx Tx, d Doc, v any) error {
	if err := encodeBody(&d, v); err != nil {
		return err
	}
	return putOwned(tx, d)
}

func changeConsents(tx Tx, e events.Event, change func(*Consents)) error {
	c := Consents{Tenant: e.Tenant(), UserID: e.Aggregate.ID, Apps: map[string]Consent{}}
	d, err := tx.Get(KindConsent, e.Aggregate.ID)
	switch {
	case err == nil:
		if err := json.Unmarshal(d.Body, &c); err != nil {
			return err
		}
		if c.Apps == nil {
			c.Apps = map[string]Consent{}
		}
	case !isNotFound(err):
		return err
	}
	change(&c)
	c.LastSeq = e.Seq
	return putDoc(tx, Doc{Kind: KindConsent, ID: c.UserID, Tenant: c.Tenant, Sort: c.UserID}, c)
}

// changeGrant applies change to the grant of e, dropping the access
// tokens expired by e's time (the grant's document is rewritten at every
// rotation: it must not grow with the family's age), and records the
// hash change returns ("" for none) as a used refresh token of the grant
// and, if change accepted a use (LastJTI became jti), the access token
// jti expiring at exp as one the grant issued. The grant is read and
// written through the projector's view cache: a family rotating is
// decoded once, not at every rotation.
func changeGrant(tx Tx, e events.Event, change func(*Grant) string, jti string, exp time.Time) error {
	d, err := peekDoc(tx, KindGrant, e.Aggregate.ID)
	if err == nil && d == nil {
		// Retention dropped the grant (its code or family expired by the
		// log's clock) before this use or revocation came: uses are
		// appended without expectation, at their instance's time, so one
		// may follow the expiry. There is nothing left to change, and
		// failing would stop the stream's projection; the token request
		// that wrote a use finds no grant and answers invalid_grant (idp).
		return nil
	}
	if err != nil {
		return fmt.Errorf("projections: %s for grant %s: %w", e.Type, e.Aggregate.ID, err)
	}
	g, err := decodeCached(tx, *d, Grant.forChange)
	if err != nil {
		return err
	}
	if g.Tokens == nil {
		g.Tokens = map[string]time.Time{}
	}
	used := change(&g)
	maps.DeleteFunc(g.Tokens, func(_ string, exp time.Time) bool { return !exp.After(e.Time) })
	if jti != "" && g.LastJTI == jti {
		if err := putGrantToken(tx, g, jti, exp); err != nil {
			return err
		}
		if exp.After(g.TokensUntil) {
			g.TokensUntil = exp
		}
	}
	until := g.keepUntil()
	if used != "" {
		if err := putAppended(tx, Doc{Kind: KindUsedRefresh, ID: used, Tenant: g.Tenant, Sort: used}, usedRefresh{GrantID: g.ID}); err != nil {
			return err
		}
		if err := ExpireAt(tx, events.HighVolume, KindUsedRefresh, used, until); err != nil {
			return err
		}
	}
	return putGrant(tx, e, g, until, d)
}

// keepUntil is when nothing the grant guards is alive any more: its
// code, its refresh tokens (a used one must still be recognised while the
// family could live) and its access tokens.
func (g Grant) keepUntil() time.Time {
	at := g.ExpiresAt
	if g.RefreshExpiresAt != nil && g.RefreshExpiresAt.After(at) {
		at = *g.RefreshExpiresAt
	}
	if g.TokensUntil.After(at) {
		at = g.TokensUntil
	}
	for _, exp := range g.Tokens {
		if exp.After(at) {
			at = exp
		}
	}
	return at
}

// putGrantToken records access token jti of g, expiring at exp.
func putGrantToken(tx Tx, g Grant, jti string, exp time.Time) error {
	id := g.ID + "/" + jti
	if err := putAppended(tx, Doc{Kind: KindGrantToken, ID: id, Tenant: g.Tenant, Sort: g.ID}, grantToken{JTI: jti, ExpiresAt: exp}); err != nil {
		return err
	}
	return ExpireAt(tx, events.HighVolume, KindGrantToken, id, exp)
}

// EachGrantToken calls fn for every access token grant g issued that has
// not expired by the log's clock (those it holds itself, then its
// KindGrantToken documents, read as their own range of the tenant's).
func EachGrantToken(ctx context.Context, r Reader, g Grant, fn func(jti string, exp time.Time) error) error {
	for _, jti := range slices.Sorted(maps.Keys(g.Tokens)) {
		if err := fn(jti, g.Tokens[jti]); err != nil {
			return err
		}
	}
	after := EncodeCursor(g.ID, " ") // just before the range: ids are "<grant id>/<jti>"
	for {
		docs, next, err := r.List(ctx, KindGrantToken, g.Tenant, Page{After: after, Limit: 100})
		if err != nil {
			return err
		}
		for _, d := range docs {
			if d.Sort != g.ID {
				return nil
			}
			var tok grantToken
			if err := json.Unmarshal(d.Body, &tok); err != nil {
				return err
			}
			if err := fn(tok.JTI, tok.ExpiresAt); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// putGrant stores g, which replaces old (nil: none), and its expiry.
func putGrant(tx Tx, e events.Event, g Grant, until time.Time, old *Doc) error {
	g.LastSeq = e.Seq
	keys := make([]string, 1, 2+len(g.Used))
	keys[0] = grantKey(old, "code:", g.CodeHash)
	for _, h := range g.Used {
		if h != "" {
			keys = append(keys, grantKey(old, "refresh:", h))
		}
	}
	if g.Refresh != "" {
		keys = append(keys, grantKey(old, "refresh:", g.Refresh))
	}
	pos := grantSort(g.UserID, g.AppID, old)
	// putCached, and the read cache gets the view too: the request that
	// appended e reads the grant as soon as it is applied (idp's Commit,
	// then the next rotation). Either serves it only while the stored
	// body is this one. The view is boxed once for the encoding and both
	// caches (which only ever hand out clones of it).
	var view any = g
	d, err := putCachedDoc(tx, Doc{Kind: KindGrant, ID: g.ID, Tenant: g.Tenant, Sort: pos, Keys: keys}, view)
	if err != nil {
		return err
	}
	readViews.put(d, view)
	return ExpireAt(tx, events.HighVolume, KindGrant, g.ID, until)
}

// grantKey is the key prefix+value, the string old holds when it holds
// that key: a grant's code key, kept at every rotation, is not made
// again.
func grantKey(old *Doc, prefix, value string) string {
	if old != nil {
		for _, k := range old.Keys {
			if isJoined(k, prefix, "", value) {
				return k
			}
		}
	}
	return prefix + value
}

// isJoined reports whether s is a+sep+b.
func isJoined(s, a, sep, b string) bool {
	return len(s) == len(a)+len(sep)+len(b) && strings.HasPrefix(s, a) && strings.HasPrefix(s[len(a):], sep) && strings.HasSuffix(s, b)
}

// GetSession returns the session id, or ErrNotFound (also once expired by
// the log's clock; callers check ExpiresAt against theirs too).
// A session is read through the read view cache: the authorization
// endpoint reads the browser's on every request.
func GetSession(ctx context.Context, r Reader, id string) (Session, error) {
	s, _, err := getCachedView(ctx, r, KindSession, id, Session.clone)
	return s, err
}

// clone copies s: it holds nothing shared.
func (s Session) clone() Session { return s }

// GetConsents returns the consents of user of tenant (none: empty).
func GetConsents(ctx context.Context, r Reader, tenant, user string) (Consents, error) {
	c, _, err := getCachedView(ctx, r, KindConsent, user, Consents.clone)
	if isNotFound(err) || (err == nil && c.Tenant != tenant) {
		return Consents{Tenant: tenant, UserID: user, Apps: map[string]Consent{}}, nil
	}
	if c.Apps == nil {
		c.Apps = map[string]Consent{}
	}
	return c, err
}

// ConsentOf returns what user of tenant let app have (false: no
// consent). It copies that one consent, not the user's whole map as
// GetConsents does: the authorization endpoint asks on every request.
func ConsentOf(ctx context.Context, r Reader, tenant, user, app string) (Consent, bool, error) {
	// The view shared with the cache, never changed: read-only here.
	c, _, err := getCachedView(ctx, r, KindConsent, user, func(c Consents) Consents { return c })
	if isNotFound(err) || (err == nil && c.Tenant != tenant) {
		return Consent{}, false, nil
	}
	if err != nil {
		return Consent{}, false, err
	}
	a, ok := c.Apps[app]
	a.Scopes = slices.Clone(a.Scopes)
	return a, ok, nil
}

func (c Consents) clone() Consents {
	c.Apps = maps.Clone(c.Apps)
	for k, a := range c.Apps {
		a.Scopes = slices.Clone(a.Scopes)
		c.Apps[k] = a
	}
	return c
}

// SortedApps returns the consents ordered by app id.
func (c Consents) SortedApps() []Consent {
	out := make([]Consent, 0, len(c.Apps))
	for _, k := range slices.Sorted(maps.Keys(c.Apps)) {
		out = append(out, c.Apps[k])
	}
	return out
}

// GrantByCode returns the grant whose code hash is h.
func GrantByCode(ctx context.Context, r Reader, h string) (Grant, error) {
	g, _, err := lookupCachedView(ctx, r, KindGrant, "code:"+h, Grant.clone)
	return g, err
}

// GrantByRefresh returns the grant one of whose refresh tokens (live or
// used) has hash h.
func GrantByRefresh(ctx context.Context, r Reader, h string) (Grant, error) {
	g, _, err := lookupCachedView(ctx, r, KindGrant, "refresh:"+h, Grant.clone)
	if !isNotFound(err) {
		return g, err
	}
	u, err := getJSON[usedRefresh](ctx, r, KindUsedRefresh, h)
	if err != nil {
		return Grant{}, err
	}
	return GetGrant(ctx, r, u.GrantID)
}

// GetGrant returns the grant id. Grants are read through the read view
// cache (viewcache.go): a token request reads its grant several times
// (fosite asks for the code's request twice, then PKCE's) and a family's
// document between two of its rotations.
func GetGrant(ctx context.Context, r Reader, id string) (Grant, error) {
	g, _, err := getCachedView(ctx, r, KindGrant, id, Grant.clone)
	return g, err
}

// grantSort is a grant's List position: its user, then its app, so a
// user's grants (of one app) are one range of the tenant's list. It is
// the string old (the grant's previous document, nil: none) holds when
// that is the same position: it is made once a grant, not at every
// rotation.
func grantSort(user, app string, old *Doc) string {
	if old != nil && isJoined(old.Sort, user, "/", app) {
		return old.Sort
	}
	return user + "/" + app
}

// EachGrantOf calls fn for every grant of user of tenant for app (every
// app when app is ""), reading only that range of the tenant's grants
// (List from the cursor of their sort position, on the index the stores
// keep for List: no scan of the tenant's other grants), in pages of 100.
// A withdrawn consent and a disabled or deleted user revoke through it.
func EachGrantOf(ctx context.Context, r Reader, tenant, user, app string, fn func(Grant) error) error {
	prefix := grantSort(user, app, nil)
	if app == "" {
		prefix = user + "/"
	}
	// Just before the range: grant ids (fosite's request ids) sort after
	// a space.
	after := EncodeCursor(prefix, " ")
	for {
		docs, next, err := r.List(ctx, KindGrant, tenant, Page{After: after, Limit: 100})
		if err != nil {
			return err
		}
		for _, d := range docs {
			if d.Sort != prefix && (app != "" || !strings.HasPrefix(d.Sort, prefix)) {
				return nil
			}
			var g Grant
			if err := json.Unmarshal(d.Body, &g); err != nil {
				return err
			}
			if err := fn(g); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// ListGrants returns the grants of tenant, at most limit per page.
func ListGrants(ctx context.Context, r Reader, tenant string, p Page) ([]Grant, string, error) {
	docs, next, err := r.List(ctx, KindGrant, tenant, p)
	if err != nil {
		return nil, "", err
	}
	out := make([]Grant, 0, len(docs))
	for _, d := range docs {
		var g Grant
		if err := json.Unmarshal(d.Body, &g); err != nil {
			return nil, "", err
		}
		out = append(out, g)
	}
	return out, next, nil
}

func getJSON[V any](ctx context.Context, r Reader, kind, id string) (V, error) {
	var v V
	d, err := r.Get(ctx, kind, id)
	if err != nil {
		return v, err
	}
	return v, json.Unmarshal(d.Body, &v)
}
