package idp

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// account serves GET /account: the signed-in user's consents, each with
// a withdraw button.
func (p *IdP) account(c echo.Context) error {
	sess, u, live, err := p.sessions.current(c)
	if err != nil {
		return p.unavailable(c, err)
	}
	if !live {
		return c.Redirect(http.StatusSeeOther, "/login?"+url.Values{"return_to": {"/account"}}.Encode())
	}
	ctx := c.Request().Context()
	ten, err := projections.GetTenant(ctx, p.cfg.Store, sess.Tenant)
	if err != nil {
		return p.unavailable(c, err)
	}
	cs, err := projections.GetConsents(ctx, p.cfg.Store, sess.Tenant, u.ID)
	if err != nil {
		return p.unavailable(c, err)
	}
	v := view{Title: "Your account", CSRF: p.sessions.csrf(c, ""), TenantName: ten.Name, UserEmail: u.Email}
	for _, k := range cs.SortedApps() {
		v.Consents = append(v.Consents, consentView{AppID: k.AppID, AppName: p.appName(ctx, sess.Tenant, k.AppID, k.ClientID), Scopes: k.Scopes})
	}
	return p.render(c, http.StatusOK, "account", v)
}

// withdrawForm serves POST /account/consents/withdraw.
func (p *IdP) withdrawForm(c echo.Context) error {
	if !p.sessions.checkCSRF(c, "") {
		return p.errorPage(c, http.StatusForbidden, "This form expired or was not sent from this page. Go back, reload the page and try again.", "csrf")
	}
	sess, u, live, err := p.sessions.current(c)
	if err != nil {
		return p.unavailable(c, err)
	}
	if !live {
		return c.Redirect(http.StatusSeeOther, "/login?"+url.Values{"return_to": {"/account"}}.Encode())
	}
	if _, err := p.withdraw(c.Request().Context(), sess.Tenant, u.ID, c.FormValue("app_id")); err != nil {
		return p.unavailable(c, err)
	}
	return c.Redirect(http.StatusSeeOther, "/account")
}

// logoutPage serves GET /logout: a confirmation form (a GET changes
// nothing, so a link or an image cannot sign anyone out).
func (p *IdP) logoutPage(c echo.Context) error {
	return p.render(c, http.StatusOK, "logout", view{Title: "Sign out", CSRF: p.sessions.csrf(c, "")})
}

// logout serves POST /logout: session.ended, the cookie cleared.
func (p *IdP) logout(c echo.Context) error {
	if !p.sessions.checkCSRF(c, "") {
		return p.errorPage(c, http.StatusForbidden, "This form expired or was not sent from this page. Go back, reload the page and try again.", "csrf")
	}
	sess, _, live, err := p.sessions.current(c)
	if err != nil && !errors.Is(err, errUserGone) {
		return p.unavailable(c, err)
	}
	if live {
		if err := p.sessions.end(c.Request().Context(), sess, events.SessionEndedLogout); err != nil {
			return p.unavailable(c, err)
		}
	}
	c.SetCookie(p.sessions.cookie(sessionCookie, "", -1))
	// The logout page's return_to carries an RP-initiated logout's
	// parameters, checked again here.
	if q, err := url.ParseQuery(c.FormValue("return_to")); err == nil && q.Get("post_logout_redirect_uri") != "" {
		if t, _, bad := p.logoutRequest(c.Request().Context(), q); bad == "" && t.url() != "" {
			return c.Redirect(http.StatusSeeOther, t.url())
		}
	}
	return p.render(c, http.StatusOK, "logout", view{Title: "Signed out", Done: true})
}
