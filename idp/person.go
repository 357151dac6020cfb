package idp

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// Person is the signed-in user of a browser, for the other first-party
// pages of this server (the admin console).
type Person struct {
	Tenant string
	User   projections.User
}

// Person returns the browser's signed-in user (ok false: no live
// session; the page sends the browser to LoginURL).
func (p *IdP) Person(c echo.Context) (Person, bool, error) {
	sess, u, live, err := p.sessions.current(c)
	if err != nil || !live {
		return Person{}, false, err
	}
	return Person{Tenant: sess.Tenant, User: u}, true, nil
}

// CSRFToken is the token every POST form of this browser carries (the
// HMAC of its gh_csrf cookie, set on the way when missing).
func (p *IdP) CSRFToken(c echo.Context) string { return p.sessions.csrf(c) }

// CheckCSRF reports whether the posted form's csrf_token matches the
// browser's gh_csrf cookie.
func (p *IdP) CheckCSRF(c echo.Context) bool { return p.sessions.checkCSRF(c) }

// ConsolePath is where the admin console lives; the login page returns
// to any page under it.
const ConsolePath = "/console"

// LoginURL is the login page returning to back (a console path).
func LoginURL(back string) string {
	return "/login?" + url.Values{"return_to": {back}}.Encode()
}

// consoleReturn reports whether s is a console page of this server.
func consoleReturn(s string) bool {
	return (s == ConsolePath || strings.HasPrefix(s, ConsolePath+"/") || strings.HasPrefix(s, ConsolePath+"?")) &&
		!strings.Contains(s, "//") && !strings.Contains(s, `\`)
}

// EndSession ends the browser's session, if any, and clears its cookie
// (the console's sign-out ends both its own session and this one).
func (p *IdP) EndSession(c echo.Context) error {
	sess, _, live, err := p.sessions.current(c)
	if err != nil {
		return err
	}
	if live {
		if err := p.sessions.end(c.Request().Context(), sess, events.SessionEndedLogout); err != nil {
			return err
		}
	}
	c.SetCookie(p.sessions.cookie(sessionCookie, "", -1))
	return nil
}

// Secure reports whether cookies are Secure (an https issuer).
func (p *IdP) Secure() bool { return p.sessions.secure() }

// RevokeRefresh implements oauth.RefreshRevoker: the revocation endpoint
// (RFC 7009 §2) given the live refresh token of a grant of clientID in
// tenant revokes the grant (authz_grant.revoked, reason client_revoked)
// and its live access tokens (§2.1). A token that is not a live refresh
// token of tenant (unknown, garbled, used, its grant revoked) changes
// nothing; one of another client of tenant is unauthorized_client.
func (p *IdP) RevokeRefresh(ctx context.Context, tenant, clientID, token string) error {
	g, h, found, err := p.grantOfRefresh(ctx, token)
	if !found || err != nil || g.Tenant != tenant || g.Refresh != h || g.Revoked != "" {
		return err
	}
	if g.ClientID != clientID {
		return fosite.ErrUnauthorizedClient.WithHint("A client may only revoke its own tokens.")
	}
	return p.revokeFamily(ctx, g, events.GrantRevokedClient)
}

// RevokeRefreshFamily revokes the grant whose live refresh token is
// token (its family dies: authz_grant.revoked, reason logout) and its
// live access tokens (token.revoked): the console's sign-out. An unknown
// or used token changes nothing.
func (p *IdP) RevokeRefreshFamily(ctx context.Context, token string) error {
	g, _, found, err := p.grantOfRefresh(ctx, token)
	if !found || err != nil || g.Revoked != "" {
		return err
	}
	return p.revokeFamily(ctx, g, events.GrantRevokedLogout)
}

// grantOfRefresh is the grant a refresh token (live or used) names, with
// the hash of its signature; found false for a garbled or unknown one.
func (p *IdP) grantOfRefresh(ctx context.Context, token string) (g projections.Grant, h string, found bool, err error) {
	_, sig, ok := strings.Cut(token, ".")
	if !ok {
		return g, "", false, nil
	}
	h = hashOf(sig)
	g, err = projections.GrantByRefresh(ctx, p.cfg.Store, h)
	if errors.Is(err, projections.ErrNotFound) {
		return g, h, false, nil
	}
	return g, h, err == nil, err
}
