package oauth

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// introspect serves POST /v1/oauth/introspect (RFC 7662) for an active
// token (tokenRoute answers the others: introspectInactive). A token of
// another tenant than the caller's is inactive, as is any token that is
// expired, revoked, or whose app is inactive or gone, or, for a user
// token, whose user is gone, disabled or was disabled since it was
// issued; an active token's scope is what is still approved (and, for a
// user token, what the user may still hold, and the OpenID Connect scopes
// it was issued with).
func (o *Server) introspect(c echo.Context, pt presented) error {
	cl := pt.p.Claims
	return c.JSON(http.StatusOK, Introspection{
		Active: true, Scope: strings.Join(introspectedScopes(pt.p), " "), ClientID: cl.ClientID, Subject: cl.Subject, Username: pt.p.Username,
		Audience: cl.Audience, Issuer: cl.Issuer, ExpiresAt: cl.ExpiresAt, IssuedAt: cl.IssuedAt,
		JTI: cl.JTI, Tenant: cl.Tenant, TokenType: "Bearer",
	})
}

// introspectedScopes are the scopes of p's token that are in effect, in
// the token's order: p.Scopes (still approved, still allowed to the user)
// and, for a person's token, the OpenID Connect scopes it carries, which
// are no catalog scopes (the checker keeps only those in p.Scopes) and
// which no scope decision withdraws.
func introspectedScopes(p Principal) []string {
	if p.UserID == "" {
		return p.Scopes
	}
	var out []string
	for _, s := range p.Claims.Scopes() {
		if slices.Contains(OIDCScopes, s) || slices.Contains(p.Scopes, s) {
			out = append(out, s)
		}
	}
	return out
}

// introspectInactive answers the introspection of a token that is not an
// active access token of the caller's tenant: a live refresh token of the
// caller's own is described (RFC 7662 §2.1 names refresh tokens; another
// client's is inactive to it, as no client learns about a token it could
// not use); any other is RFC 7662 §2.2's {"active": false}.
func (o *Server) introspectInactive(c echo.Context, req tokenReq) error {
	if o.refresh != nil {
		r, ok, err := o.refresh.IntrospectRefresh(c.Request().Context(), req.tenant, req.clientID, req.token)
		if err != nil {
			return err
		}
		if ok {
			// No token_type (RFC 7662's is an access token's type, RFC
			// 6749 §7.1: a refresh token is never presented to a
			// resource) but Hydra's token_use, by which a client tells
			// the two apart; no jti; exp only when the token expires by
			// itself.
			return c.JSON(http.StatusOK, Introspection{
				Active: true, Scope: strings.Join(r.Scopes, " "), ClientID: r.ClientID, Subject: r.Subject, Username: r.Username,
				Audience: []string{r.ClientID}, Issuer: o.cfg.Issuer, ExpiresAt: unixOrZero(r.ExpiresAt), IssuedAt: r.IssuedAt.Unix(),
				Tenant: r.Tenant, TokenUse: "refresh_token",
			})
		}
	}
	return c.JSON(http.StatusOK, map[string]bool{"active": false})
}

// unixOrZero is t in Unix seconds, 0 for the zero time.
func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// Introspection is an active token's RFC 7662 §2.2 answer: an access
// token's, or a refresh token's (introspectInactive), which leaves out
// what it does not have.
type Introspection struct {
	Active   bool   `json:"active"`
	Scope    string `json:"scope"`
	ClientID string `json:"client_id"`
	Subject  string `json:"sub"`
	// Username is, for a token issued to a signed-in user, the user's
	// e-mail (RFC 7662 §2.2); absent on an app's own tokens.
	Username  string   `json:"username,omitempty"`
	Audience  []string `json:"aud"`
	Issuer    string   `json:"iss"`
	ExpiresAt int64    `json:"exp,omitempty"`
	IssuedAt  int64    `json:"iat"`
	JTI       string   `json:"jti,omitempty"`
	Tenant    string   `json:"tid"`
	TokenType string   `json:"token_type,omitempty"`
	// TokenUse is "refresh_token" for a refresh token, absent otherwise.
	TokenUse string `json:"token_use,omitempty"`
}

// isInactive reports whether err says "this token is not active" rather
// than "the server failed".
func isInactive(err error) bool {
	return errors.Is(err, errTokenInactive) || errors.Is(err, errTokenMalformed) ||
		errors.Is(err, errTokenExpired) || errors.Is(err, errTokenIssuer) || errors.Is(err, errTokenAudience)
}
