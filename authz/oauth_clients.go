package authz

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/projections"
)

// clientStore is fosite's storage of clients: it reads the apps projection.
// It never waits for the log itself: a failed client authentication, for
// whatever reason (an unknown client_id, a wrong secret), is retried once
// after catching up with the control stream (OAuth.authenticate), so that
// both cost the same and neither is an oracle (issue 12 point 8), and a
// client or secret just registered through another instance is found
// (DESIGN.md "Projections", read-your-writes).
type clientStore struct {
	store projections.Reader
	now   func() time.Time
	jtis  *jtiCache
}

var _ fosite.Storage = (*clientStore)(nil)

// GetClient implements fosite.ClientManager. Inactive and deleted apps are
// unknown clients (invalid_client).
func (s *clientStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
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
	return clientFromApp(app, s.now()), nil
}

// clientFromApp builds the fosite view of app as of now: only approved
// scopes, only secrets whose grace period has not ended.
func clientFromApp(app projections.App, now time.Time) *Client {
	c := &Client{
		AppID:      app.ID,
		Tenant:     app.Tenant,
		ClientID:   app.ClientID,
		Grants:     app.GrantTypes,
		Redirects:  app.RedirectURIs,
		AuthMethod: app.TokenEndpointAuthMethod,
		TokenTTL:   time.Duration(app.AccessTokenTTLSeconds) * time.Second,
		Active:     app.Active,
	}
	for _, g := range app.Scopes {
		if g.Status == "approved" {
			c.Approved = append(c.Approved, g.Scope)
		}
	}
	for i := len(app.Secrets) - 1; i >= 0; i-- { // newest first
		sec := app.Secrets[i]
		if sec.ExpiresAt == nil || now.Before(*sec.ExpiresAt) {
			c.Hashes = append(c.Hashes, decodeHash(sec.Hash))
		}
	}
	if len(app.JWKS) > 0 {
		var set jose.JSONWebKeySet
		if json.Unmarshal(app.JWKS, &set) == nil {
			c.JWKS = &set
		}
	}
	return c
}

// ClientAssertionJWTValid implements fosite.ClientManager: a private_key_jwt
// assertion's jti may be used once (RFC 7523 §3).
func (s *clientStore) ClientAssertionJWTValid(_ context.Context, jti string) error {
	if s.jtis.seen(jti, s.now()) {
		return fosite.ErrJTIKnown
	}
	return nil
}

// SetClientAssertionJWT implements fosite.ClientManager.
func (s *clientStore) SetClientAssertionJWT(_ context.Context, jti string, exp time.Time) error {
	s.jtis.add(jti, exp, s.now())
	return nil
}

// jtiCache remembers client-assertion jtis until they expire.
type jtiCache struct {
	mu  sync.Mutex
	exp map[string]time.Time
}

func newJTICache() *jtiCache { return &jtiCache{exp: map[string]time.Time{}} }

func (c *jtiCache) seen(jti string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.exp[jti]
	return ok && now.Before(exp)
}

func (c *jtiCache) add(jti string, exp, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.exp {
		if !now.Before(e) {
			delete(c.exp, k)
		}
	}
	c.exp[jti] = exp
}
