package idp

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// consentJSON is one consent as GET /v1/me/consents answers it.
type consentJSON struct {
	AppID     string    `json:"app_id"`
	ClientID  string    `json:"client_id"`
	AppName   string    `json:"app_name"`
	Scopes    []string  `json:"scopes"`
	GrantedAt time.Time `json:"granted_at"`
}

// person authenticates a person's bearer token (sub is a user, not the
// app itself): 401 without a valid token, 403 for an app's own token.
func (p *IdP) person(c echo.Context) (oauth.Principal, error) {
	token, ok := oauth.BearerOf(c.Request().Header.Get("Authorization"))
	if !ok {
		return oauth.Principal{}, httpapi.Unauthorized("a bearer access token is required")
	}
	pr, err := p.cfg.OAuth.Checker().Check(c.Request().Context(), token)
	if err != nil {
		if isInactive(err) {
			return pr, httpapi.Unauthorized("the access token is not active")
		}
		return pr, err
	}
	if pr.Subject == pr.ClientID {
		return pr, httpapi.Forbidden("the token was issued to an app, not to a person")
	}
	if _, err := p.activeUser(c.Request().Context(), pr.Tenant, pr.Subject); err != nil {
		return pr, httpapi.Unauthorized("the access token is not active")
	}
	return pr, nil
}

// myConsents serves GET /v1/me/consents: the token's user's consents.
func (p *IdP) myConsents(c echo.Context) error {
	pr, err := p.person(c)
	if err != nil {
		return err
	}
	cs, err := p.consentsOf(c, pr)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"items": cs})
}

func (p *IdP) consentsOf(c echo.Context, pr oauth.Principal) ([]consentJSON, error) {
	ctx := c.Request().Context()
	cs, err := projections.GetConsents(ctx, p.cfg.Store, pr.Tenant, pr.Subject)
	if err != nil {
		return nil, err
	}
	out := []consentJSON{}
	for _, k := range cs.SortedApps() {
		out = append(out, consentJSON{AppID: k.AppID, ClientID: k.ClientID, AppName: p.appName(ctx, pr.Tenant, k.AppID, k.ClientID),
			Scopes: k.Scopes, GrantedAt: k.GrantedAt})
	}
	return out, nil
}

// withdrawMine serves DELETE /v1/me/consents/{app_id}: the consent goes
// and the app's refresh-token families for the user die (204; 404 when
// there is no such consent).
func (p *IdP) withdrawMine(c echo.Context) error {
	pr, err := p.person(c)
	if err != nil {
		return err
	}
	found, err := p.withdraw(c.Request().Context(), pr.Tenant, pr.Subject, c.Param("app_id"))
	if err != nil {
		return err
	}
	if !found {
		return httpapi.NotFound("consent")
	}
	return c.NoContent(http.StatusNoContent)
}
