package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/idp"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/sealing"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/console.css
var styleCSS []byte

//go:embed assets/console.js
var scriptJS []byte

// Config wires the console.
type Config struct {
	// People keeps the person's sign-in session (the authorization
	// endpoint's login) and the key of the forms' CSRF tokens.
	People *idp.IdP
	// AdminScopes are the tenant-admin scopes (authz.TenantAdminScopes):
	// what the console client asks for; the token carries those the
	// person's roles allow.
	AdminScopes []string
	// Reads are the platform API's list reads as functions: the apps and
	// webhooks lists render from them without a request through the
	// router and its JSON (reads.go).
	Reads *authz.Reads
	// Issuer is this server's issuer (the callback's redirect URI).
	Issuer string
	// Sealer seals the session cookies (sealing.ConsoleSession).
	Sealer *sealing.Sealer
	// Checker is the API's token check (oauth.Server.Checker).
	Checker *oauth.TokenChecker
	// VerifyIDToken checks an ID token's signature and type and returns
	// its claims.
	VerifyIDToken func(string) ([]byte, error)
	// TenantByName resolves ?tenant= (a tenant's name) to its id.
	TenantByName func(ctx context.Context, name string) (string, error)
	// User reads a user of a tenant.
	User   func(ctx context.Context, tenant, id string) (projections.User, error)
	Now    func() time.Time
	Logger *slog.Logger
}

// Console serves /console.
type Console struct {
	cfg   Config
	api   http.Handler
	pages map[string]*template.Template
}

// pageNames are the templates, each with layout.html.
var pageNames = []string{"apps", "app", "app_new", "secret", "catalog", "webhooks", "webhook", "users", "audit", "refused", "credentials", "credential", "activities", "activity", "user_new", "user", "app_edit"}

// New parses the pages.
func New(cfg Config) (*Console, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Console{cfg: cfg, pages: map[string]*template.Template{}}
	funcs := template.FuncMap{"time": showTime, "join": strings.Join, "list": func(s ...string) []string { return s },
		"approvals": func(v view, label string, items []Approval) approvalsView {
			app, _ := v.Data.(App)
			return approvalsView{App: app, CSRF: v.CSRF, Idem: v.Idem, Label: label, Items: items}
		}}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		s.pages[name] = t
	}
	return s, nil
}

// Register adds the console's pages; e is also the router its requests
// to the platform API go to.
func (s *Console) Register(e *echo.Echo) {
	s.api = e
	g := e.Group(idp.ConsolePath, httpapi.NoStore, s.secure)
	g.GET("/callback", s.callback)
	g.POST("/logout", s.logout)
	e.GET(idp.ConsolePath+"/assets/console.css", s.asset("text/css; charset=utf-8", styleCSS))
	e.GET(idp.ConsolePath+"/assets/console.js", s.asset("text/javascript; charset=utf-8", scriptJS))
	for _, r := range s.routes() {
		if r.method == http.MethodPost {
			g.POST(r.path, s.form(r.h))
		} else {
			g.GET(r.path, s.signedIn(r.h))
		}
	}
}

// route is a page (GET: signedIn) or a form (POST: form, the CSRF token
// checked too) under /console.
type route struct {
	method, path string
	h            handler
}

// routes is every page and form of a signed-in person.
func (s *Console) routes() []route {
	get, post := http.MethodGet, http.MethodPost
	return []route{
		{get, "", func(c echo.Context, _ person) error { return c.Redirect(http.StatusSeeOther, idp.ConsolePath+"/apps") }},
		{get, "/apps", s.appsPage},
		{get, "/apps/new", s.newAppPage},
		{post, "/apps", s.createApp},
		{get, "/apps/:id", s.appPage},
		{post, "/apps/:id/decisions", s.decide},
		{post, "/apps/:id/secrets", s.rotateSecret},
		{post, "/apps/:id/secrets/:secret_id/revoke", s.revokeSecret},
		{get, "/apps/:id/edit", s.editAppPage},
		{post, "/apps/:id/edit", s.editApp},
		{post, "/apps/:id/active", s.setAppActive},
		{post, "/apps/:id/tokens", s.serviceToken},
		{get, "/catalog", s.catalogPage},
		{get, "/webhooks", s.webhooksPage},
		{get, "/webhooks/:id", s.webhookPage},
		{post, "/webhooks/:id/test", s.testWebhook},
		{post, "/webhooks/:id/rotate", s.rotateWebhookSecret},
		{post, "/webhooks/:id/deliveries/:delivery_id/retry", s.retry},
		{get, "/credentials", s.credentialsPage},
		{get, "/credentials/:id", s.credentialPage},
		{post, "/credentials/:id/refresh", s.refreshCredential},
		{post, "/credentials/:id/rollback", s.rollbackCredential},
		{post, "/credentials/:id/authorize", s.authorizeCredential},
		{get, "/activities", s.activitiesPage},
		{get, "/activities/:id", s.activityPage},
		{post, "/activities/:id/decisions", s.decideActivity},
		{get, "/users", s.usersPage},
		{get, "/users/new", s.newUserPage},
		{post, "/users", s.createUser},
		{get, "/users/:id", s.userPage},
		{post, "/users/:id/role", s.setRole},
		{post, "/users/:id/disable", s.disableUser},
		{post, "/users/:id/enable", s.enableUser},
		{post, "/users/:id/delete", s.deleteUser},
		{get, "/audit", s.auditPage},
	}
}

func (s *Console) asset(ctype string, b []byte) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		return c.Blob(http.StatusOK, ctype, b)
	}
}

// secure sets the pages' headers: no framing, scripts and styles of this
// server only, forms posting to this server only.
func (s *Console) secure(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("Referrer-Policy", "same-origin")
		return next(c)
	}
}

// person is the signed-in user of a request, as the API's caller.
type person struct {
	idp.Person
	Principal oauth.Principal
	Admin     bool
	// sess is the console session (nil on the sign-in's own pages).
	sess *session
}

// handler is a page or form handler of a signed-in person.
type handler func(c echo.Context, p person) error

// form admits a CSRF-checked POST of a signed-in person.
func (s *Console) form(h handler) echo.HandlerFunc {
	return s.signedIn(func(c echo.Context, p person) error {
		if !s.cfg.People.CheckBoundCSRF(c, p.sess.csrfBound()) {
			return s.refused(c, p, http.StatusForbidden, "This form expired or was not sent from this page. Go back, reload the page and try again.")
		}
		return h(c, p)
	})
}

// view is what every page shows; each page reads what it needs.
type view struct {
	Title   string
	Nav     string
	Person  person
	CSRF    string
	Error   string
	Fields  map[string]string
	Notice  string
	Data    any
	Idem    string
	Refusal int
	// SignIn marks a page of the sign-in itself (no person yet).
	SignIn bool
}

// approvalsView is one table of approvals on the app page.
type approvalsView struct {
	App               App
	CSRF, Idem, Label string
	Items             []Approval
}

// render writes page name.
func (s *Console) render(c echo.Context, status int, name string, p person, v view) error {
	v.Person = p
	if b := p.sess.csrfBound(); b != "" {
		v.CSRF = s.cfg.People.BoundCSRFToken(b)
	}
	if v.Idem == "" {
		v.Idem = newKey()
	}
	if p.sess != nil && p.sess.Flash != nil { // shown once
		if v.Notice == "" {
			v.Notice = p.sess.Flash.Notice
		}
		if v.Error == "" {
			v.Error = p.sess.Flash.Error
		}
		p.sess.Flash = nil
		if err := s.saveSession(c, p.sess); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// refused shows the API's refusal (or the console's) as a page.
func (s *Console) refused(c echo.Context, p person, status int, msg string) error {
	return s.render(c, status, "refused", p, view{Title: http.StatusText(status), Error: msg, Refusal: status})
}

// failed shows an API answer that is not 2xx as a page.
func (s *Console) failed(c echo.Context, p person, a answer) error {
	pr := a.problem()
	return s.refused(c, p, a.Status, pr.message())
}

// refusedOrBack answers an API refusal of a form: the refusal page when
// the person may not act (401, 403) or the thing is not theirs to see
// (404), otherwise back to page with the problem's message by the form.
func (s *Console) refusedOrBack(c echo.Context, p person, a answer, page string) error {
	switch a.Status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return s.failed(c, p, a)
	}
	return s.backTo(c, p, page, "", a.problem().message())
}

// backTo sends the browser (303) back to a console page with a notice or
// an error message for it to show once: a flash in the sealed session,
// never text in the URL (a crafted link could show anything).
func (s *Console) backTo(c echo.Context, p person, page, notice, msg string) error {
	if p.sess != nil && (notice != "" || msg != "") {
		p.sess.Flash = &flash{Notice: notice, Error: msg}
		if err := s.saveSession(c, p.sess); err != nil {
			return err
		}
	}
	return c.Redirect(http.StatusSeeOther, page)
}

// send is every form's API request: the form's Idempotency-Key on a
// POST and its version as If-Match when the request names none; a
// refusal is answered (refusedOrBack to page) and ok is false.
func (s *Console) send(c echo.Context, p person, r request, page string) (answer, bool, error) {
	if r.IdempotencyKey == "" && r.Method == http.MethodPost {
		r.IdempotencyKey = c.FormValue("idempotency_key")
	}
	if r.IfMatch == "" {
		r.IfMatch = c.FormValue("version")
	}
	a, err := s.do(c, p.Principal, r)
	if err != nil {
		return a, false, err
	}
	if !a.ok() {
		return a, false, s.refusedOrBack(c, p, a, page)
	}
	return a, true, nil
}

// act sends a form's request (send) and comes back to page with notice.
func (s *Console) act(c echo.Context, p person, r request, page, notice string) error {
	_, ok, err := s.send(c, p, r, page)
	if err != nil || !ok {
		return err
	}
	return s.backTo(c, p, page, notice, "")
}

// The pages a form comes back to.
func appURL(id string) string        { return "/console/apps/" + url.PathEscape(id) }
func webhookURL(id string) string    { return "/console/webhooks/" + url.PathEscape(id) }
func credentialURL(id string) string { return "/console/credentials/" + url.PathEscape(id) }
func activityURL(id string) string   { return "/console/activities/" + url.PathEscape(id) }
func userURL(id string) string       { return "/console/users/" + url.PathEscape(id) }

// newKey is a form's Idempotency-Key, made when the form is rendered: a
// double submit sends it twice and acts once.
func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "console-" + hex.EncodeToString(b)
}

func showTime(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.UTC().Format("2006-01-02 15:04:05 UTC")
	case *time.Time:
		if v == nil {
			return ""
		}
		return v.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return ""
}
