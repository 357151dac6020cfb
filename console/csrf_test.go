package console_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestConsoleCSRFBoundToSession: a console form's CSRF token is bound to
// the console session of the page that carried it, not to the gh_csrf
// cookie: a token of one admin's console, planted with that browser's
// gh_csrf in another admin's browser, forges nothing there, and the
// console's sign-out refuses it too.
func TestConsoleCSRFBoundToSession(t *testing.T) {
	s := servertest.New(t)
	tok := s.Token()
	user(t, s, tok, "eve@example.com", "admin")
	user(t, s, tok, "ada@example.com", "admin")
	eve, ada := newBrowser(t, s), newBrowser(t, s)
	eve.signIn("eve@example.com")
	ada.signIn("ada@example.com")
	u, _ := url.Parse(s.URL)

	_, page := eve.do(http.MethodGet, "/console/apps/new", nil)
	token := find(t, csrfRe, page)
	for _, ck := range eve.c.Jar.Cookies(u) {
		if ck.Name == "gh_csrf" {
			ada.c.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value, Path: "/"}})
		}
	}
	_, page = ada.do(http.MethodGet, "/console/apps/new", nil)
	res, _ := ada.do(http.MethodPost, "/console/apps", url.Values{"csrf_token": {token}, "idempotency_key": {find(t, idemRe, page)},
		"name": {"forged"}, "grant_types": {"client_credentials"}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("a form with another session's token and its gh_csrf: %d, want 403", res.StatusCode)
	}
	for _, a := range apps(t, s, tok) {
		if a.Name == "forged" {
			t.Errorf("the forged form created an app")
		}
	}
	if res, _ := ada.do(http.MethodPost, "/console/logout", url.Values{"csrf_token": {token}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out with another session's token: %d, want 403", res.StatusCode)
	}
	// Ada's own token: the form goes through, her session lives on.
	res, _ = ada.do(http.MethodPost, "/console/apps", url.Values{"csrf_token": {find(t, csrfRe, page)}, "idempotency_key": {find(t, idemRe, page)},
		"name": {"hers"}, "grant_types": {"client_credentials"}})
	if res.StatusCode != http.StatusCreated {
		t.Errorf("a form with the session's own token: %d, want 201", res.StatusCode)
	}
}

// handBrowser keeps cookies by name and sends them by hand, Secure ones
// too: the test server is plain http on loopback, where a cookie jar
// would hold back the https issuer's Secure cookies.
type handBrowser struct {
	t       *testing.T
	s       *servertest.Server
	cookies map[string]*http.Cookie
}

func (b *handBrowser) get(path string) *http.Response {
	b.t.Helper()
	res, _ := b.send(http.MethodGet, path, nil)
	return res
}

func (b *handBrowser) send(method, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(b.t.Context(), method, b.s.URL+path, strings.NewReader(form.Encode()))
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, ck := range b.cookies {
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 {
			delete(b.cookies, ck.Name)
		} else {
			b.cookies[ck.Name] = ck
		}
	}
	return res, string(body)
}

// TestConsoleCookiesHostPrefixed: on an https issuer the console's
// cookies (the sign-in under way, the session) are __Host- cookies:
// Secure, Path=/, no Domain; the session under the plain name is no
// session.
func TestConsoleCookiesHostPrefixed(t *testing.T) {
	s := servertest.New(t, servertest.Env("ISSUER", "https://auth.example.test"))
	user(t, s, s.Token(), "ada@example.com", "admin")
	b := &handBrowser{t: t, s: s, cookies: map[string]*http.Cookie{}}
	hostCookie := func(name string) *http.Cookie {
		t.Helper()
		ck := b.cookies[name]
		if ck == nil || !ck.Secure || ck.Path != "/" || ck.Domain != "" || !ck.HttpOnly {
			t.Fatalf("cookie %s: %v, want Secure HttpOnly Path=/ no Domain (all: %v)", name, ck, b.cookies)
		}
		return ck
	}
	res := b.get("/console/apps")
	hostCookie("__Host-gh_console_auth")
	loc, _ := url.Parse(res.Header.Get("Location"))
	res = b.get(loc.RequestURI())
	login, _ := url.Parse(res.Header.Get("Location"))
	if login == nil || login.Path != "/login" {
		t.Fatalf("authorize: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	_, page := b.send(http.MethodGet, login.RequestURI(), nil)
	hostCookie("__Host-gh_csrf")
	back := login.Query().Get("return_to")
	res, _ = b.send(http.MethodPost, "/login", url.Values{"csrf_token": {find(t, csrfRe, page)}, "return_to": {back},
		"email": {"ada@example.com"}, "password": {password}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", res.StatusCode)
	}
	hostCookie("__Host-gh_session")
	res = b.get(back)
	cb, _ := url.Parse(res.Header.Get("Location"))
	if cb == nil || cb.Path != "/console/callback" {
		t.Fatalf("authorize after the login: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res = b.get(cb.RequestURI()); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/apps" {
		t.Fatalf("callback: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	sess := hostCookie("__Host-gh_console")
	if res = b.get("/console/apps"); res.StatusCode != http.StatusOK {
		t.Fatalf("the console with its __Host- session: %d", res.StatusCode)
	}
	// The same sealed session under the plain name: no session.
	b.cookies = map[string]*http.Cookie{"gh_console": {Name: "gh_console", Value: sess.Value}}
	if res = b.get("/console/apps"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the console with a plain gh_console: %d, want 303 to a new sign-in", res.StatusCode)
	}
}
