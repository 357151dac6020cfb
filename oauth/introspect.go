package oauth

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// introspect serves POST /v1/oauth/introspect (RFC 7662) for an active
// token (tokenRoute answers the others: inactiveIntrospection). A token of
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

// inactiveIntrospection is RFC 7662 §2.2's answer for a token that is not
// active.
func inactiveIntrospection(c echo.Context, _ tokenReq) error {
	return c.JSON(http.StatusOK, map[string]bool{"active": false})
}

// Introspection is an active token's RFC 7662 §2.2 answer.
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
	ExpiresAt int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	JTI       string   `json:"jti"`
	Tenant    string   `json:"tid"`
	TokenType string   `json:"token_type"`
}

// isInactive reports whether err says "this token is not active" rather
// than "the server failed".
func isInactive(err error) bool {
	return errors.Is(err, errTokenInactive) || errors.Is(err, errTokenMalformed) ||
		errors.Is(err, errTokenExpired) || errors.Is(err, errTokenIssuer) || errors.Is(err, errTokenAudience)
}
