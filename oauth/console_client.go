package oauth

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// The admin console (package console) is a first-party client of every
// tenant, built in rather than registered: client_id
// ConsoleClientID(tenant), public (PKCE S256, no secret), the
// authorization_code and refresh_token grants, one redirect URI
// (<issuer>/console/callback) and the tenant-admin scopes, all approved
// by construction. No app of the log stands behind it, so no admin can
// deactivate, re-point or widen it; its tokens carry the app id
// ConsoleAppID.
const (
	ConsoleAppID        = "console"
	consoleClientPrefix = "gatehouse-console."
	// ConsoleCallbackPath is the console client's redirect URI's path.
	ConsoleCallbackPath = "/console/callback"
)

// ConsoleClientID is the console's client_id in tenant.
func ConsoleClientID(tenant string) string { return consoleClientPrefix + tenant }

// ConsoleTenant is the tenant of a console client_id (ok false: not the
// console's).
func ConsoleTenant(clientID string) (string, bool) {
	t, ok := strings.CutPrefix(clientID, consoleClientPrefix)
	return t, ok && t != ""
}

// consoleClient is the console's client in tenant, if the tenant exists.
func (s *clientStore) consoleClient(ctx context.Context, tenant string) (fosite.Client, error) {
	if _, err := projections.GetTenant(ctx, s.store, tenant); errors.Is(err, projections.ErrNotFound) {
		return nil, fosite.ErrNotFound
	} else if err != nil {
		return nil, err
	}
	return (&Client{AppID: ConsoleAppID, Tenant: tenant, ClientID: ConsoleClientID(tenant),
		Grants: []string{"authorization_code", "refresh_token"}, Redirects: []string{s.issuer + ConsoleCallbackPath},
		AuthMethod: "none", Approved: slices.Clone(s.console), Active: true, FirstParty: true}).withScopes(), nil
}

// checkConsole checks a token of the console client (c.ClientID is one):
// not revoked, its scopes those of the console it still carries; then as
// every person's token (checkUser: the user live, the scopes their roles
// allow now).
func (tc *TokenChecker) checkConsole(ctx context.Context, c AccessClaims, tenant string) (Principal, error) {
	if tenant != c.Tenant || c.Subject == c.ClientID {
		return Principal{}, errTokenInactive
	}
	revoked, err := projections.IsRevoked(ctx, tc.Store, ConsoleAppID, c.JTI)
	if err != nil {
		return Principal{}, err
	}
	if revoked {
		return Principal{}, errTokenInactive
	}
	var scopes []string
	for _, s := range c.Scopes() {
		if slices.Contains(tc.Console, s) {
			scopes = append(scopes, s)
		}
	}
	p := Principal{Tenant: c.Tenant, AppID: ConsoleAppID, ClientID: c.ClientID, Subject: c.Subject, PublicApp: true, Scopes: scopes, Claims: c,
		Actor: events.Actor{Kind: events.ActorApp, ID: ConsoleAppID, Via: c.JTI}}
	p, err = tc.checkUser(ctx, c, p)
	if err != nil {
		return p, err
	}
	return p, tc.consoleAdmin(ctx, &p)
}

// consoleAdmin leaves a console token its scopes only while its user is
// an admin: the console is no app whose approvals give a member
// anything (a member reads what any token of the tenant may).
func (tc *TokenChecker) consoleAdmin(ctx context.Context, p *Principal) error {
	u, err := projections.GetUser(ctx, tc.Store, p.Tenant, p.UserID)
	if err != nil {
		return err
	}
	if !slices.Contains(u.Roles, events.RoleAdmin) {
		p.Scopes = nil
	}
	return nil
}
