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
	ctx := c.Request().Context()
	tenant, clientID, token, err := o.tokenRequest(c)
	if err != nil {
		return o.oauthError(c, err)
	}
	if !o.spend(c, clientID) {
		return nil
	}
	p, err := o.checker.Check(ctx, token)
	if err != nil {
		if isInactive(err) {
			return c.NoContent(http.StatusOK)
		}
		return err
	}
	if p.Tenant != tenant {
		// Another tenant's token is unknown here, like garbage: saying
		// more would tell that it exists.
		return c.NoContent(http.StatusOK)
	}
	if p.ClientID != clientID {
		return o.oauthError(c, fosite.ErrUnauthorizedClient.WithHint("A client may only revoke its own tokens."))
	}
	if err := o.revokeToken(ctx, revocation{Tenant: p.Tenant, AppID: p.AppID, JTI: p.Claims.JTI,
		ExpiresAt: timeUnix(p.Claims.ExpiresAt), Actor: events.Actor{Kind: events.ActorApp, ID: p.AppID}}); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}
