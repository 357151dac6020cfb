package oauth

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/events"
)

// revoke serves POST /v1/oauth/revoke (RFC 7009). The caller may revoke
// its own tokens; an invalid or unknown token is answered 200 (§2.2); a
// token of another client is refused with unauthorized_client.
func (o *Server) revoke(c echo.Context) error {
	pt, ok, err := o.presentedToken(c)
	if !ok {
		return err
	}
	if !pt.active {
		return c.NoContent(http.StatusOK) // §2.2: an invalid token is answered 200
	}
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
