package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// cookieOf is the cookie name a response set, or nil.
func cookieOf(res *http.Response, name string) *http.Cookie {
	for _, ck := range res.Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// signedInBrowser is a browser signed in as email through the login page
// (return_to /account).
func signedInBrowser(t *testing.T, s *servertest.Server, email string) *browser {
	t.Helper()
	b := newBrowser(t)
	_, body := b.get(s.URL + "/login?return_to=%2Faccount")
	res, body := b.post(s.URL+"/login", url.Values{"csrf_token": {field(t, csrfRe, body)}, "return_to": {"/account"},
		"email": {email}, "password": {idpPassword}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login %d: %s", res.StatusCode, body)
	}
	return b
}

// TestIdPCSRFBoundToSession: a hosted form's CSRF token is bound to the
// session of the browser that got it, so a cookie+token pair planted in
// another browser (a sibling subdomain's or a plain-http answer's
// Set-Cookie: gh_csrf) does not forge a form of that browser's session,
// and a token of one session is refused with another; before any
// session, a login page's token answers that page's pending request
// only (its return_to).
func TestIdPCSRFBoundToSession(t *testing.T) {
	s := servertest.New(t)
	newUser(t, s, "ada@example.com")
	newUser(t, s, "eve@example.com")
	u, _ := url.Parse(s.URL)

	// The attacker's pair: their browser's gh_csrf and its token.
	eve := newBrowser(t)
	_, body := eve.get(s.URL + "/logout")
	planted, token := "", field(t, csrfRe, body)
	for _, ck := range eve.c.Jar.Cookies(u) {
		if ck.Name == "gh_csrf" {
			planted = ck.Value
		}
	}
	if planted == "" {
		t.Fatal("no gh_csrf cookie")
	}

	// Ada is signed in; the pair planted in her browser does not sign
	// her out (nor post any form of her session).
	ada := signedInBrowser(t, s, "ada@example.com")
	ada.c.Jar.SetCookies(u, []*http.Cookie{{Name: "gh_csrf", Value: planted, Path: "/"}})
	if res, _ := ada.post(s.URL+"/logout", url.Values{"csrf_token": {token}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("logout with a planted pair: %d, want 403", res.StatusCode)
	}
	if res, _ := ada.get(s.URL + "/account"); res.StatusCode != http.StatusOK {
		t.Fatalf("ada signed out by a planted pair: %d", res.StatusCode)
	}

	// A token of Eve's session is refused with Ada's, whatever CSRF
	// cookie Ada's browser holds.
	eve = signedInBrowser(t, s, "eve@example.com")
	_, body = eve.get(s.URL + "/account")
	eveToken := field(t, csrfRe, body)
	for _, ck := range eve.c.Jar.Cookies(u) {
		if ck.Name == "gh_csrf" {
			ada.c.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value, Path: "/"}})
		}
	}
	if res, _ := ada.post(s.URL+"/logout", url.Values{"csrf_token": {eveToken}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("logout with another session's token: %d, want 403", res.StatusCode)
	}
	_, body = ada.get(s.URL + "/account")
	if res, _ := ada.post(s.URL+"/logout", url.Values{"csrf_token": {field(t, csrfRe, body)}}); res.StatusCode != http.StatusOK {
		t.Errorf("logout with the session's own token: %d, want 200", res.StatusCode)
	}

	// Before a session: the login page's token answers its own request
	// (return_to) only.
	b := newBrowser(t)
	_, body = b.get(s.URL + "/login?return_to=%2Faccount")
	loginToken := field(t, csrfRe, body)
	back := "/console?tenant=default"
	res, _ := b.post(s.URL+"/login", url.Values{"csrf_token": {loginToken}, "return_to": {back}, "email": {"eve@example.com"}, "password": {idpPassword}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("login with a token of another request: %d, want 403", res.StatusCode)
	}
	res, _ = b.post(s.URL+"/login", url.Values{"csrf_token": {loginToken}, "return_to": {"/account"}, "email": {"eve@example.com"}, "password": {idpPassword}})
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("login with its own token: %d, want 303", res.StatusCode)
	}
	// The login form is before a session: signed in meanwhile (another
	// tab), its token still answers it.
	res, _ = b.post(s.URL+"/login", url.Values{"csrf_token": {loginToken}, "return_to": {"/account"}, "email": {"ada@example.com"}, "password": {idpPassword}})
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("login of a page rendered before the session: %d, want 303", res.StatusCode)
	}
}

// TestIdPCookiesHostPrefixed: on an https issuer the session and CSRF
// cookies are __Host- cookies (Secure, Path=/, no Domain), and a plain
// gh_csrf or gh_session cookie (which a sibling subdomain or a plain-http
// answer could plant) is not read: a login form forged with a planted
// plain gh_csrf and its token does not sign the browser in.
func TestIdPCookiesHostPrefixed(t *testing.T) {
	s := servertest.New(t, servertest.Env("ISSUER", "https://auth.example.test"))
	newUser(t, s, "eve@example.com")
	// The client sends cookies by hand: the server is plain http on
	// loopback, a jar would not send Secure cookies to it.
	send := func(method, path, cookie string, form url.Values) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, s.URL+path, strings.NewReader(form.Encode()))
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		return newBrowser(t).do(req)
	}

	// A planted plain gh_csrf and the token its planter read beside it.
	const planted = "planted-csrf-value-0123456789abcdefghijkl"
	_, page := send(http.MethodGet, "/login?return_to=%2Faccount", "gh_csrf="+planted, nil)
	token := field(t, csrfRe, page)
	res, _ := send(http.MethodPost, "/login", "gh_csrf="+planted, url.Values{"csrf_token": {token}, "return_to": {"/account"},
		"email": {"eve@example.com"}, "password": {idpPassword}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("login with a planted plain gh_csrf: %d, want 403", res.StatusCode)
	}
	if ck := cookieOf(res, "gh_session"); ck != nil {
		t.Errorf("a plain session cookie set: %v", ck)
	}

	// The server's own cookies are __Host- ones.
	res, page = send(http.MethodGet, "/login?return_to=%2Faccount", "", nil)
	csrf := cookieOf(res, "__Host-gh_csrf")
	if csrf == nil || !csrf.Secure || csrf.Path != "/" || csrf.Domain != "" || !csrf.HttpOnly {
		t.Fatalf("CSRF cookie %v, want __Host-gh_csrf Secure Path=/ no Domain (all: %v)", csrf, res.Cookies())
	}
	res, _ = send(http.MethodPost, "/login", "__Host-gh_csrf="+csrf.Value, url.Values{"csrf_token": {field(t, csrfRe, page)},
		"return_to": {"/account"}, "email": {"eve@example.com"}, "password": {idpPassword}})
	sess := cookieOf(res, "__Host-gh_session")
	if res.StatusCode != http.StatusSeeOther || sess == nil || !sess.Secure || sess.Path != "/" || sess.Domain != "" {
		t.Fatalf("login: %d, session cookie %v (all: %v)", res.StatusCode, sess, res.Cookies())
	}
	if res, _ = send(http.MethodGet, "/account", "__Host-gh_session="+sess.Value, nil); res.StatusCode != http.StatusOK {
		t.Errorf("account with __Host-gh_session: %d, want 200", res.StatusCode)
	}
	// The same secret under the plain name is no session.
	if res, _ = send(http.MethodGet, "/account", "gh_session="+sess.Value, nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("account with a plain gh_session: %d, want 303 to the login page", res.StatusCode)
	}
}
