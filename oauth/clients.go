package oauth

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// clientStore is fosite's storage of clients: it reads the apps projection.
// It never waits for the log itself: a failed client authentication, for
// whatever reason (an unknown client_id, a wrong secret), is retried once
// after catching up with the control stream (Server.authenticate), so that
// both cost the same and neither is an oracle (issue 12 point 8), and a
// client or secret just registered through another instance is found
// (DESIGN.md "Projections", read-your-writes).
type clientStore struct {
	store projections.Reader
	now   func() time.Time
	// issuer and console make the console's built-in client
	// (consoleClient).
	issuer  string
	console []string
	// cache keeps the client built from each app while the store's count
	// of app changes stays where it was (clientCache).
	cache clientCache
}

var _ fosite.Storage = (*clientStore)(nil)

// GetClient implements fosite.ClientManager. Inactive and deleted apps are
// unknown clients (invalid_client).
//
// A client is a function of its app's document and of the time (a
// secret's grace period ends), so when the store counts its changes
// (projections.ChangeCounter: the memory store) the client built is kept
// with the count of app changes taken before its read, and given again
// while that count has not moved and no secret it holds has expired: any
// commit that writes an app (a scope decision, a secret, a deactivation)
// makes the next call read and build again, so it counts at once as
// before. Every token request authenticates its client; building one read
// and cloned the app and decoded its secrets' hashes each time.
func (s *clientStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	if tenant, ok := ConsoleTenant(id); ok {
		return s.consoleClient(ctx, tenant)
	}
	cc, counts := s.store.(projections.ChangeCounter)
	var changes uint64
	now := s.now()
	if counts {
		changes = cc.Changes(projections.KindApp)
		if cl := s.cache.get(id, changes, now); cl != nil {
			return cl, nil
		}
	}
	app, err := projections.AppByClientID(ctx, s.store, id)
	if errors.Is(err, projections.ErrNotFound) {
		return nil, fosite.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if !app.Active {
		return nil, fosite.ErrNotFound
	}
	cl, until := clientFromApp(app, now)
	if counts {
		s.cache.put(id, cachedClient{changes: changes, until: until, client: cl})
	}
	return cl, nil
}

// clientCache holds the clients GetClient built, by client_id, each with
// the count of app changes it was read at. It holds at most
// maxCachedClients (a deleted app's entry stays until it is pushed out;
// it is never given, the count having moved).
type clientCache struct {
	mu      sync.RWMutex
	entries map[string]cachedClient
}

// maxCachedClients bounds the client cache (DESIGN.md invariant 8).
const maxCachedClients = 4096

type cachedClient struct {
	changes uint64
	// until is when the first secret the client holds ends its grace
	// period (zero: none will).
	until  time.Time
	client *Client
}

// get returns the client cached for id if it was read at changes and is
// still what building it at now would give; nil otherwise.
func (c *clientCache) get(id string, changes uint64, now time.Time) *Client {
	c.mu.RLock()
	e, ok := c.entries[id]
	c.mu.RUnlock()
	if !ok || e.changes != changes || (!e.until.IsZero() && !now.Before(e.until)) {
		return nil
	}
	return e.client
}

// put caches e for id, pushing out an arbitrary entry when full.
func (c *clientCache) put(id string, e cachedClient) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]cachedClient)
	}
	if _, ok := c.entries[id]; !ok && len(c.entries) >= maxCachedClients {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[id] = e
}

// clientFromApp builds the fosite view of app as of now: only approved
// scopes, grant types in effect (authorization_code once approved for the
// tenant, refresh_token only with it: projections.App.GrantEffective),
// only approved redirect URIs, only secrets whose grace period has not
// ended. until is when it stops being what building it again would give:
// the end of the first grace period of a secret it holds (zero: never).
func clientFromApp(app projections.App, now time.Time) (c *Client, until time.Time) {
	c = &Client{
		AppID:      app.ID,
		Tenant:     app.Tenant,
		ClientID:   app.ClientID,
		Grants:     effectiveGrants(app),
		Redirects:  approvedRedirects(app),
		AuthMethod: app.TokenEndpointAuthMethod,
		IDTokenAlg: app.IDTokenSignedResponseAlg,
		TokenTTL:   time.Duration(app.AccessTokenTTLSeconds) * time.Second,
		JWKS:       app.JWKS,
		Active:     app.Active,
	}
	for _, g := range app.Scopes {
		if g.Status == events.GrantApproved {
			c.Approved = append(c.Approved, g.Scope)
		}
	}
	for i := len(app.Secrets) - 1; i >= 0; i-- { // newest first
		sec := app.Secrets[i]
		if sec.ExpiresAt == nil || now.Before(*sec.ExpiresAt) {
			c.Hashes = append(c.Hashes, decodeHash(sec.Hash))
			if sec.ExpiresAt != nil && (until.IsZero() || sec.ExpiresAt.Before(until)) {
				until = *sec.ExpiresAt
			}
		}
	}
	return c.withScopes(), until
}

// effectiveGrants are app's grant types in effect now.
func effectiveGrants(app projections.App) []string {
	out := make([]string, 0, len(app.GrantTypes))
	for _, g := range app.GrantTypes {
		if app.GrantEffective(g) {
			out = append(out, g)
		}
	}
	return out
}

// approvedRedirects are app's redirect URIs approved for the tenant.
func approvedRedirects(app projections.App) []string {
	var out []string
	for _, u := range app.RedirectURIs {
		if app.RedirectURIApproved(u) {
			out = append(out, u)
		}
	}
	return out
}

// ClientAssertionJWTValid implements fosite.ClientManager for fosite
// handlers that check a jti and record it in two steps. None is wired:
// clientAuthenticator records each client assertion's jti in one
// conditional append (assertionVerifier.use), so this refuses every jti
// rather than let a handler bypass that.
func (s *clientStore) ClientAssertionJWTValid(context.Context, string) error {
	return fosite.ErrJTIKnown
}

// SetClientAssertionJWT implements fosite.ClientManager; see
// ClientAssertionJWTValid.
func (s *clientStore) SetClientAssertionJWT(context.Context, string, time.Time) error {
	return fosite.ErrJTIKnown
}
