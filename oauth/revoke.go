package oauth

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/events"
)

// revoke serves POST /v1/oauth/revoke (RFC 7009) for an active token
// (tokenRoute answers the others: revokedInactive). The caller may revoke
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

// revokedInactive answers the revocation of a token that is not active:
// 200, as for any invalid token (§2.2).
func revokedInactive(c echo.Context) error { return c.NoContent(http.StatusOK) }
