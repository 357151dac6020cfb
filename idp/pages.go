package idp

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/style.css
var styleCSS []byte

// pages are the hosted pages' templates (html/template: every value is
// escaped for where it lands).
type pages struct {
	t map[string]*template.Template
}

func newPages() (*pages, error) {
	p := &pages{t: map[string]*template.Template{}}
	for _, name := range []string{"login", "consent", "error", "account", "logout"} {
		t, err := template.ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		p.t[name] = t
	}
	return p, nil
}

// view is what every page shows; pages read the members they need.
type view struct {
	Title      string
	Error      string
	CSRF       string
	ReturnTo   string
	TenantName string
	AppName    string
	Email      string
	UserEmail  string
	Message    string
	Code       string
	Done       bool
	Scopes     []scopeView
	Consents   []consentView
}

type scopeView struct{ Name, Description string }

type consentView struct {
	AppID, AppName string
	Scopes         []string
}

// render writes page name with status. Hosted pages may not be framed
// (clickjacking of the consent button) and name no referrer.
func (p *IdP) render(c echo.Context, status int, name string, v view) error {
	var buf bytes.Buffer
	if err := p.pages.t[name].ExecuteTemplate(&buf, name+".html", v); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self' "+formActions(p.cfg.Issuer)+"; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	return c.HTMLBlob(status, buf.Bytes())
}

// formActions lets the forms' redirects go to the clients' callbacks:
// CSP form-action also governs redirects after a POST, so it allows any
// http(s) target (the server itself decides which redirect URIs are
// registered).
func formActions(string) string { return "http: https:" }

// errorPage renders the error page: never a redirect to an unverified
// redirect URI.
func (p *IdP) errorPage(c echo.Context, status int, message, code string) error {
	return p.render(c, status, "error", view{Title: "Something went wrong", Message: message, Code: code})
}

func (p *IdP) style(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	return c.Blob(http.StatusOK, "text/css; charset=utf-8", styleCSS)
}

// safeReturn keeps a return_to that goes back to the authorization
// endpoint, the account page or a console page of this server, nothing
// else (no open redirect).
func safeReturn(s string) string {
	if strings.HasPrefix(s, authorizePath+"?") || s == "/account" || consoleReturn(s) {
		if u, err := url.Parse(s); err == nil && u.Host == "" && u.Scheme == "" {
			return s
		}
	}
	return ""
}
