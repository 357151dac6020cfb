package idp

import (
	"context"
	"crypto/hmac"
	"errors"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/oauth"
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

// BoundCSRFToken is the CSRF token of the forms of a page of this
// server's own whose session is not idp's (the console's): the HMAC
// (sealing.CSRFKey) of bound, a value unique to that session and known
// to the server only (it keeps it sealed).
func (p *IdP) BoundCSRFToken(bound string) string {
	return p.sessions.csrfMAC(bindConsole, bound, "")
}

// CheckBoundCSRF reports whether the posted form's csrf_token is
// BoundCSRFToken(bound); an empty bound matches nothing.
func (p *IdP) CheckBoundCSRF(c echo.Context, bound string) bool {
	return bound != "" && hmac.Equal([]byte(p.BoundCSRFToken(bound)), []byte(c.FormValue("csrf_token")))
}

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

// RevokeRefresh implements oauth.RefreshTokens: the revocation endpoint
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

// IntrospectRefresh implements oauth.RefreshTokens: the introspection
// endpoint given a refresh token of clientID in tenant describes it when
// the refresh grant would take it now (liveRefresh, the token endpoint's
// own decision, and fosite's checks of the client's grant type and the
// family's expiry): its scopes as a refresh would grant them (narrowed to
// what the app and the user may hold now), its user, when it was issued
// (its family's last rotation) and when it expires (the family's end or
// the idle timeout, whichever comes first). Any other token, another
// client's included, is ok false.
func (p *IdP) IntrospectRefresh(ctx context.Context, tenant, clientID, token string) (oauth.RefreshInfo, bool, error) {
	g, h, found, err := p.grantOfRefresh(ctx, token)
	if !found || err != nil || g.Tenant != tenant || g.ClientID != clientID {
		return oauth.RefreshInfo{}, false, err
	}
	r, err := p.grants.liveRefresh(ctx, g, h)
	if errors.Is(err, fosite.ErrInactiveToken) || errors.Is(err, fosite.ErrNotFound) {
		return oauth.RefreshInfo{}, false, nil
	}
	if err != nil {
		return oauth.RefreshInfo{}, false, err
	}
	now := p.now()
	exp := r.GetSession().GetExpiresAt(fosite.RefreshToken)
	if !r.GetClient().GetGrantTypes().Has("refresh_token") || (!exp.IsZero() && !now.Before(exp)) {
		return oauth.RefreshInfo{}, false, nil
	}
	if idle := p.cfg.RefreshIdleTTL; idle > 0 && (exp.IsZero() || g.LastUsed.Add(idle).Before(exp)) {
		exp = g.LastUsed.Add(idle)
	}
	u, err := p.requestUser(ctx, g.Tenant, g.UserID)
	if err != nil {
		return oauth.RefreshInfo{}, false, err
	}
	return oauth.RefreshInfo{Scopes: r.GetGrantedScopes(), ClientID: g.ClientID, Subject: g.UserID, Username: u.Email,
		Tenant: g.Tenant, IssuedAt: g.LastUsed, ExpiresAt: exp}, true, nil
}

// RevokeRefreshFamily revokes the grant a refresh token of its family
// names, live or used (its family dies: authz_grant.revoked, reason
// logout) and the grant's live access tokens (token.revoked): the
// console's sign-out, whose cookie may hold a refresh token the console
// has since rotated (a copy of the cookie, another tab): the person signs
// out of the grant whichever of its tokens the browser holds. Unlike
// RevokeRefresh (a client's revocation, which a used token does not
// reach) it checks no tenant or client: the console calls it in process
// with the token it sealed. An unknown or garbled token, or one of a
// grant already revoked, changes nothing.
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
