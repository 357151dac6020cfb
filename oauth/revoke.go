package oauth

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/events"
)

// revoke serves POST /v1/oauth/revoke (RFC 7009) for an active token
// (tokenRoute answers the others: revokeInactive). The caller may revoke
// its own tokens; an invalid or unknown token is answered 200 (§2.2); a
// token of another client is refused with unauthorized_client.
func (o *Server) revoke(c echo.Context, pt presented) error {
	p := pt.p
	if p.ClientID != pt.clientID {
		return o.oauthError(c, fosite.ErrUnauthorizedClient.WithHint("A client may only revoke its own tokens."))
	}
	if err := o.revokeToken(c.Request().Context(), revocation{Tenant: p.Tenant, AppID: p.AppID, JTI: p.Claims.JTI,
		ExpiresAt: timeUnix(p.Claims.ExpiresAt), Actor: events.Actor{Kind: events.ActorApp, ID: p.AppID}}); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}

// revokeInactive answers the revocation of a token that is not an active
// access token of the caller's tenant: a refresh token goes to the
// RefreshTokens (RFC 7009 §2: refresh tokens MUST be revocable); any
// other, and one that revoker does not know, is answered 200, as for any
// invalid token (§2.2).
func (o *Server) revokeInactive(c echo.Context, req tokenReq) error {
	if o.refresh != nil {
		if err := o.refresh.RevokeRefresh(c.Request().Context(), req.tenant, req.clientID, req.token); err != nil {
			return o.oauthError(c, err)
		}
	}
	return c.NoContent(http.StatusOK)
}

// RefreshTokens is what the revocation and introspection endpoints ask of
// the refresh tokens' issuer (the identity provider).
type RefreshTokens interface {
	// RevokeRefresh revokes the live refresh token token of client
	// clientID of tenant, and the access tokens of its grant (RFC 7009
	// §2.1). It returns nil for a token it does not know as a live refresh
	// token of tenant (§2.2: the caller is told nothing),
	// fosite.ErrUnauthorizedClient for a live one of another client of
	// tenant (as revoke answers for an access token), and any other error
	// when it could not tell or not revoke.
	RevokeRefresh(ctx context.Context, tenant, clientID, token string) error
	// IntrospectRefresh describes token when it is a live refresh token
	// of client clientID of tenant that its holder could use now (RFC
	// 7662 §2.2); ok false for any other token, another client's
	// included, and an error only when it could not tell.
	IntrospectRefresh(ctx context.Context, tenant, clientID, token string) (r RefreshInfo, ok bool, err error)
}

// RefreshInfo is what introspection tells of a live refresh token.
type RefreshInfo struct {
	Scopes    []string
	ClientID  string
	Subject   string
	Username  string
	Tenant    string
	IssuedAt  time.Time
	ExpiresAt time.Time // zero: it does not expire by itself
}

// RefreshTokensWith makes the revocation and introspection endpoints ask
// r about refresh tokens. It is called while wiring, before the server
// serves.
func (o *Server) RefreshTokensWith(r RefreshTokens) { o.refresh = r }
