package idp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/identity"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// errLogin is the one answer to a failed login: it never tells whether
// the e-mail exists.
const errLogin = "Email or password is incorrect."

// defaultTenant is the tenant of a login that names no app (the account
// page reached directly) and no ?tenant=.
const defaultTenant = "default"

// target is whom a login or consent page is for: the tenant (chosen by
// the pending request's client_id) and the app.
type target struct {
	Tenant     string
	TenantName string
	AppName    string
	AppID      string
	ClientID   string
}

// targetOf reads the tenant and app of return_to (its client_id), or the
// tenant named by name (default: "default") when it names none.
func (p *IdP) targetOf(ctx context.Context, back, name string) (target, error) {
	var t target
	if u, err := url.Parse(back); err == nil && u.Query().Get("client_id") != "" {
		if tenant, ok := oauth.ConsoleTenant(u.Query().Get("client_id")); ok { // the console's sign-in
			ten, err := projections.GetTenant(ctx, p.cfg.Store, tenant)
			if err != nil {
				return t, err
			}
			clientID := u.Query().Get("client_id")
			return target{Tenant: ten.ID, TenantName: ten.Name, AppName: p.appName(ctx, ten.ID, oauth.ConsoleAppID, clientID),
				AppID: oauth.ConsoleAppID, ClientID: clientID}, nil
		}
		app, err := projections.AppByClientID(ctx, p.cfg.Store, u.Query().Get("client_id"))
		if err != nil {
			return t, err
		}
		t = target{Tenant: app.Tenant, AppName: app.Name, AppID: app.ID, ClientID: app.ClientID}
		ten, err := projections.GetTenant(ctx, p.cfg.Store, app.Tenant)
		if err != nil {
			return t, err
		}
		t.TenantName = ten.Name
		return t, nil
	}
	if u, err := url.Parse(back); name == "" && err == nil && consoleReturn(back) {
		name = u.Query().Get("tenant") // a console page names its tenant: /console?tenant=acme
	}
	if name == "" {
		name = defaultTenant
	}
	ten, err := projections.TenantByName(ctx, p.cfg.Store, name)
	if err != nil {
		return t, err
	}
	return target{Tenant: ten.ID, TenantName: ten.Name}, nil
}

// loginPage serves GET /login.
func (p *IdP) loginPage(c echo.Context) error {
	back := safeReturn(c.QueryParam("return_to"))
	if back == "" {
		back = "/account"
	}
	t, err := p.targetOf(c.Request().Context(), back, c.QueryParam("tenant"))
	if errors.Is(err, projections.ErrNotFound) {
		return p.errorPage(c, http.StatusBadRequest, "The application or organisation is not known.", "invalid_request")
	}
	if err != nil {
		return p.unavailable(c, err)
	}
	return p.render(c, http.StatusOK, "login", view{Title: "Sign in", CSRF: p.sessions.loginCSRF(c, back), ReturnTo: back,
		TenantName: t.TenantName, AppName: t.AppName, Email: c.QueryParam("login_hint")})
}

// login serves POST /login: CSRF, throttle, password through the bounded
// hasher, a new session (a fresh secret: no fixation), back to return_to.
func (p *IdP) login(c echo.Context) error {
	back := safeReturn(c.FormValue("return_to"))
	if back == "" {
		back = "/account"
	}
	if !p.sessions.checkLoginCSRF(c, back) {
		return p.errorPage(c, http.StatusForbidden, "This form expired or was not sent from this page. Go back, reload the page and try again.", "csrf")
	}
	ctx := c.Request().Context()
	t, err := p.targetOf(ctx, back, "")
	if errors.Is(err, projections.ErrNotFound) {
		return p.errorPage(c, http.StatusBadRequest, "The application or organisation is not known.", "invalid_request")
	}
	if err != nil {
		return p.unavailable(c, err)
	}
	email := strings.TrimSpace(c.FormValue("email"))
	v := view{Title: "Sign in", CSRF: p.sessions.loginCSRF(c, back), ReturnTo: back, TenantName: t.TenantName, AppName: t.AppName, Email: email}
	account, addr := t.Tenant+"/"+strings.ToLower(email), remoteHost(c.Request().RemoteAddr)
	if !p.throttle.allowed(account, addr) {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(p.cfg.LoginWindow.Seconds())))
		v.Error = "Too many failed sign-ins. Wait a few minutes, then try again."
		return p.render(c, http.StatusTooManyRequests, "login", v)
	}
	u, ok, err := p.check(ctx, t.Tenant, email, c.FormValue("password"))
	if errors.Is(err, identity.ErrBusy) {
		return p.unavailable(c, err)
	}
	if err != nil {
		return p.unavailable(c, err)
	}
	if !ok {
		p.throttle.fail(account, addr)
		v.Error = errLogin
		return p.render(c, http.StatusUnauthorized, "login", v)
	}
	if old, _, live, err := p.sessions.current(c); err == nil && live {
		_ = p.sessions.end(ctx, old, events.SessionEndedReplaced)
	}
	if _, err := p.sessions.start(c, u); err != nil {
		return p.unavailable(c, err)
	}
	return c.Redirect(http.StatusSeeOther, back)
}

// check verifies email's password in tenant. An unknown e-mail or a
// disabled user costs one argon2id verification all the same.
func (p *IdP) check(ctx context.Context, tenant, email, password string) (projections.User, bool, error) {
	u, err := projections.UserByEmail(ctx, p.cfg.Store, tenant, email)
	found := err == nil && u.Tenant == tenant && !u.Disabled
	if err != nil && !errors.Is(err, projections.ErrNotFound) {
		return u, false, err
	}
	p.dummyOnce.Do(func() { p.dummy, p.dummyErr = p.cfg.Hasher.Hash(ctx, "gatehouse: no such user") })
	if p.dummyErr != nil {
		return u, false, p.dummyErr
	}
	phc := p.dummy
	if found {
		b, err := p.passwords.Open(u.ID, u.PasswordHashSealed)
		if err != nil {
			return u, false, err
		}
		phc = string(b)
	}
	err = p.cfg.Hasher.Verify(ctx, phc, password)
	if errors.Is(err, identity.ErrMismatch) {
		return u, false, nil
	}
	if err != nil {
		return u, false, err
	}
	return u, found, nil
}

// remoteHost is the host of the connection's peer: the address the
// throttle counts (never a forwarded header a client could choose), as
// the OAuth endpoints' limits do.
func remoteHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
