package oauth

import (
	"context"
	"errors"
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
}

var _ fosite.Storage = (*clientStore)(nil)

// GetClient implements fosite.ClientManager. Inactive and deleted apps are
// unknown clients (invalid_client).
func (s *clientStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	if tenant, ok := ConsoleTenant(id); ok {
		return s.consoleClient(ctx, tenant)
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
	return clientFromApp(app, s.now()), nil
}

// clientFromApp builds the fosite view of app as of now: only approved
// scopes, grant types in effect (authorization_code once approved for the
// tenant, refresh_token only with it: projections.App.GrantEffective),
// only approved redirect URIs, only secrets whose grace period has not
// ended.
func clientFromApp(app projections.App, now time.Time) *Client {
	c := &Client{
		AppID:      app.ID,
		Tenant:     app.Tenant,
		ClientID:   app.ClientID,
		Grants:     effectiveGrants(app),
		Redirects:  approvedRedirects(app),
		AuthMethod: app.TokenEndpointAuthMethod,
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
		}
	}
	return c
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
