package console_test

import (
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// The console's forms over HTTP against the whole server (servertest):
// the sign-in redirect, CSRF, Idempotency-Key (a double submit acts
// once), If-Match (a stale page changes nothing) and the member's
// refusals. The browser walk is e2e/console_test.go.

const password = "violet-harbour-lantern-42"

var (
	csrfRe    = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	idemRe    = regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`)
	versionRe = regexp.MustCompile(`name="version" value="([0-9]+)"`)
	secretRe  = regexp.MustCompile(`id="secret" class="secret" value="([^"]+)"`)
)

// browser keeps cookies and never follows redirects.
type browser struct {
	t *testing.T
	s *servertest.Server
	c *http.Client
}

func newBrowser(t *testing.T, s *servertest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, s: s, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, b.s.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	page, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return res, string(page)
}

func find(t *testing.T, re *regexp.Regexp, page string) string {
	t.Helper()
	m := re.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s in the page:\n%s", re, page)
	}
	return html.UnescapeString(m[1])
}

// signIn signs email in from a console page: the console sends the
// browser to the authorization endpoint as its first-party client (PKCE
// S256, state, nonce), which sends it to the login page; after the login
// the authorization endpoint answers the callback with a code (no
// consent), and the callback lands back on the page.
func (b *browser) signIn(email string) {
	b.t.Helper()
	res, _ := b.do(http.MethodGet, "/console/apps", nil)
	loc, _ := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusSeeOther || loc == nil || loc.Path != "/v1/oauth/authorize" {
		b.t.Fatalf("no session: %d to %q, want 303 to the authorization endpoint", res.StatusCode, res.Header.Get("Location"))
	}
	q := loc.Query()
	if q.Get("client_id") != "gatehouse-console.default" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" ||
		q.Get("state") == "" || q.Get("nonce") == "" || q.Get("redirect_uri") != b.s.URL+"/console/callback" || q.Get("response_type") != "code" {
		b.t.Fatalf("the console's authorization request: %s", loc)
	}
	res, _ = b.do(http.MethodGet, loc.RequestURI(), nil)
	login, _ := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusSeeOther || login == nil || login.Path != "/login" {
		b.t.Fatalf("authorize without a session: %d to %q, want the login page", res.StatusCode, res.Header.Get("Location"))
	}
	_, page := b.do(http.MethodGet, login.RequestURI(), nil)
	back := login.Query().Get("return_to")
	res, page = b.do(http.MethodPost, "/login", url.Values{"csrf_token": {find(b.t, csrfRe, page)}, "return_to": {back},
		"email": {email}, "password": {password}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != back {
		b.t.Fatalf("login: %d to %q: %s", res.StatusCode, res.Header.Get("Location"), page)
	}
	res, page = b.do(http.MethodGet, back, nil)
	cb, _ := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusSeeOther || cb == nil || cb.Path != "/console/callback" || cb.Query().Get("code") == "" ||
		cb.Query().Get("state") != q.Get("state") {
		b.t.Fatalf("authorize after the login (no consent for the console): %d to %q: %s", res.StatusCode, res.Header.Get("Location"), page)
	}
	res, page = b.do(http.MethodGet, cb.RequestURI(), nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/apps" {
		b.t.Fatalf("callback: %d to %q: %s", res.StatusCode, res.Header.Get("Location"), page)
	}
	var sess *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "gh_console" {
			sess = ck
		}
	}
	if sess == nil || !sess.HttpOnly {
		b.t.Fatalf("the console session cookie %+v: want it HttpOnly", sess)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(sess.Value); err != nil || !strings.HasPrefix(string(raw), "v1:") {
		b.t.Fatalf("the console session cookie is not sealed: %q", sess.Value)
	}
}

func user(t *testing.T, s *servertest.Server, tok, email, role string) {
	t.Helper()
	if r := s.Do(http.MethodPost, "/v1/platform/users", tok, map[string]any{"email": email, "name": "Console " + role, "password": password,
		"roles": []string{role}}); r.Status != http.StatusCreated {
		t.Fatalf("user: %d %s", r.Status, r.Body)
	}
}

type apiApp struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Secrets []struct {
		ID string `json:"id"`
	} `json:"secrets"`
}

func apps(t *testing.T, s *servertest.Server, tok string) []apiApp {
	t.Helper()
	var page struct {
		Items []apiApp `json:"items"`
	}
	s.Do(http.MethodGet, "/v1/platform/apps?limit=500", tok, nil).JSON(t, &page)
	return page.Items
}

func TestConsoleForms(t *testing.T) {
	s := servertest.New(t)
	tok := s.Token()
	user(t, s, tok, "admin@example.com", "admin")
	user(t, s, tok, "member@example.com", "member")
	b := newBrowser(t, s)
	b.signIn("admin@example.com")

	// A form without its CSRF token is refused and creates nothing.
	_, page := b.do(http.MethodGet, "/console/apps/new", nil)
	idem := find(t, idemRe, page)
	res, _ := b.do(http.MethodPost, "/console/apps", url.Values{"name": {"forged"}, "idempotency_key": {idem}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("no CSRF token: %d, want 403", res.StatusCode)
	}
	// So is every form of the console (a POST is registered as a form).
	forms := 0
	for _, r := range s.Server.Router.Routes() {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.Path, "/console") {
			continue
		}
		forms++
		path := regexp.MustCompile(`:[a-z_]+`).ReplaceAllString(r.Path, "x")
		if res, _ := b.do(http.MethodPost, path, url.Values{"idempotency_key": {idem}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without its CSRF token: %d, want 403", path, res.StatusCode)
		}
	}
	if forms < 20 {
		t.Fatalf("%d console forms among the routes: want every one", forms)
	}
	// A double submit (one rendered form, its Idempotency-Key twice)
	// creates one app and shows the same secret.
	form := url.Values{"csrf_token": {find(t, csrfRe, page)}, "idempotency_key": {idem}, "name": {"twice"}, "grant_types": {"client_credentials"}}
	res, first := b.do(http.MethodPost, "/console/apps", form)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", res.StatusCode, first)
	}
	res, second := b.do(http.MethodPost, "/console/apps", form)
	if res.StatusCode != http.StatusCreated || find(t, secretRe, first) != find(t, secretRe, second) {
		t.Fatalf("the second submit: %d, secret %q then %q", res.StatusCode, find(t, secretRe, first), find(t, secretRe, second))
	}
	var app apiApp
	n := 0
	for _, a := range apps(t, s, tok) {
		if a.Name == "twice" || a.Name == "forged" {
			app, n = a, n+1
		}
	}
	if n != 1 || app.Name != "twice" {
		t.Fatalf("%d apps made by the forged form and the double submit, want the one", n)
	}

	// A name the API refuses: its message next to the field.
	res, page = b.do(http.MethodPost, "/console/apps", url.Values{"csrf_token": {form.Get("csrf_token")}, "idempotency_key": {"k-" + idem},
		"name": {"twice"}})
	if res.StatusCode != http.StatusConflict || !strings.Contains(page, `role="alert"`) {
		t.Fatalf("a taken name: %d %s", res.StatusCode, page)
	}

	// A stale page: the second rotation from the same rendering carries
	// the version the first one changed; the API's 412 comes back and
	// nothing changes.
	_, page = b.do(http.MethodGet, "/console/apps/"+app.ID, nil)
	version := find(t, versionRe, page)
	rotate := url.Values{"csrf_token": {form.Get("csrf_token")}, "grace_period_seconds": {"60"}, "version": {version}}
	rotate.Set("idempotency_key", "rotate-1-"+idem)
	if res, page := b.do(http.MethodPost, "/console/apps/"+app.ID+"/secrets", rotate); res.StatusCode != http.StatusCreated {
		t.Fatalf("rotate: %d %s", res.StatusCode, page)
	}
	rotate.Set("idempotency_key", "rotate-2-"+idem)
	res, _ = b.do(http.MethodPost, "/console/apps/"+app.ID+"/secrets", rotate)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/apps/"+app.ID {
		t.Fatalf("a stale rotation: %d to %q, want back to the page", res.StatusCode, res.Header.Get("Location"))
	}
	// The API's problem is shown once on that page: a flash of the
	// sealed session, not text of the URL.
	if _, page := b.do(http.MethodGet, "/console/apps/"+app.ID, nil); !strings.Contains(page, `class="error" role="alert"`) {
		t.Fatalf("the stale rotation's problem is not on the page:\n%s", page)
	}
	if _, page := b.do(http.MethodGet, "/console/apps/"+app.ID, nil); strings.Contains(page, `class="error" role="alert"`) {
		t.Fatalf("the flash is shown twice")
	}
	// A crafted link shows no text of its own.
	if _, page := b.do(http.MethodGet, "/console/apps/"+app.ID+"?error=Your+account+is+locked&notice=Call+us", nil); strings.Contains(page, "locked") ||
		strings.Contains(page, "Call us") {
		t.Fatalf("a crafted link's text is on the page")
	}
	for _, a := range apps(t, s, tok) {
		if a.ID == app.ID && len(a.Secrets) != 2 {
			t.Fatalf("the app has %d secrets after one rotation and a stale one, want 2", len(a.Secrets))
		}
	}

	// A webhook of the bootstrap admin app (managed by itself alone): an
	// admin sees it and its deliveries, and may not act on it (the API's
	// 404 for a webhook the caller may not change).
	var hook struct {
		ID string `json:"id"`
	}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(rcv.Close)
	if r := s.Do(http.MethodPost, "/v1/webhooks", tok, map[string]any{"url": rcv.URL + "/bootstrap-hook", "events": []string{"app.created"}}); r.Status != http.StatusCreated {
		t.Fatalf("subscribe: %d %s", r.Status, r.Body)
	} else {
		r.JSON(t, &hook)
	}
	if res, page := b.do(http.MethodGet, "/console/webhooks/"+hook.ID, nil); res.StatusCode != http.StatusOK || !strings.Contains(page, "/bootstrap-hook") {
		t.Fatalf("an admin reads the bootstrap app's webhook: %d", res.StatusCode)
	}
	if res, _ := b.do(http.MethodPost, "/console/webhooks/"+hook.ID+"/test", url.Values{"csrf_token": {form.Get("csrf_token")},
		"idempotency_key": {"test-" + idem}}); res.StatusCode != http.StatusNotFound {
		t.Fatalf("an admin tests the bootstrap app's webhook: %d, want the API's 404", res.StatusCode)
	}

	// A member reads the catalog; the rest is the API's 403.
	m := newBrowser(t, s)
	m.signIn("member@example.com")
	if res, _ := m.do(http.MethodGet, "/console/catalog", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("member catalog: %d", res.StatusCode)
	}
	for _, p := range []string{"/console/apps", "/console/apps/" + app.ID, "/console/users", "/console/audit", "/console/webhooks"} {
		if res, page := m.do(http.MethodGet, p, nil); res.StatusCode != http.StatusForbidden || !strings.Contains(page, `class="error" role="alert"`) {
			t.Errorf("member %s: %d, want the API's 403", p, res.StatusCode)
		}
	}
	_, page = m.do(http.MethodGet, "/console/catalog", nil)
	res, _ = m.do(http.MethodPost, "/console/apps/"+app.ID+"/secrets", url.Values{"csrf_token": {find(t, csrfRe, page)},
		"idempotency_key": {"member-" + idem}, "grace_period_seconds": {"0"}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("member rotation: %d, want 403", res.StatusCode)
	}
}

// sessionCookie is the browser's console session cookie.
func (b *browser) sessionCookie() *http.Cookie {
	u, _ := url.Parse(b.s.URL + "/console/apps")
	for _, ck := range b.c.Jar.Cookies(u) {
		if ck.Name == "gh_console" {
			return ck
		}
	}
	return nil
}

// wantSignIn asserts that path sends the browser to the authorization
// endpoint (no live console session).
func (b *browser) wantSignIn(what, path string) {
	b.t.Helper()
	res, _ := b.do(http.MethodGet, path, nil)
	loc, _ := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusSeeOther || loc == nil || loc.Path != "/v1/oauth/authorize" {
		b.t.Fatalf("%s: %d to %q, want a new sign-in", what, res.StatusCode, res.Header.Get("Location"))
	}
}

// TestConsoleSession: the console's session is the token of its code
// flow, checked by the API on every page: a callback without the
// browser's state is refused; a disabled user's console is signed out
// at the next page; sign-out revokes the tokens (a copy of the old
// cookie is worth nothing) and ends the sign-in session. The users
// pages: create (a refused password by its field), role, disable,
// enable, delete, a stale page refused.
func TestConsoleSession(t *testing.T) {
	s := servertest.New(t)
	tok := s.Token()
	user(t, s, tok, "admin@example.com", "admin")
	b := newBrowser(t, s)

	// A callback this browser did not start.
	if res, page := b.do(http.MethodGet, "/console/callback?code=x&state=y", nil); res.StatusCode != http.StatusBadRequest ||
		!strings.Contains(page, "not started by this browser") {
		t.Fatalf("a forged callback: %d %s", res.StatusCode, page)
	}
	b.signIn("admin@example.com")

	// Create a user: a weak password is refused by its field, then made.
	_, page := b.do(http.MethodGet, "/console/users/new", nil)
	csrf := find(t, csrfRe, page)
	form := url.Values{"csrf_token": {csrf}, "idempotency_key": {find(t, idemRe, page)}, "email": {"new@example.com"}, "name": {"New"},
		"password": {"short"}, "role": {"member"}}
	res, page := b.do(http.MethodPost, "/console/users", form)
	if res.StatusCode != http.StatusBadRequest && res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, `id="password-error"`) {
		t.Fatalf("a weak password: %d, want the problem by the password field:\n%s", res.StatusCode, page)
	}
	form.Set("password", password)
	form.Set("idempotency_key", "u2-"+form.Get("idempotency_key"))
	res, _ = b.do(http.MethodPost, "/console/users", form)
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/console/users/") {
		t.Fatalf("create user: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	userPage := res.Header.Get("Location")
	_, page = b.do(http.MethodGet, userPage, nil)
	if !strings.Contains(page, "User new@example.com created.") {
		t.Fatalf("no notice on the new user's page:\n%s", page)
	}
	version := find(t, versionRe, page)
	act := func(action string, v string) *http.Response {
		res, _ := b.do(http.MethodPost, userPage+"/"+action, url.Values{"csrf_token": {csrf}, "idempotency_key": {action + v},
			"version": {v}, "role": {"admin"}})
		return res
	}
	if res := act("role", version); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("role: %d", res.StatusCode)
	}
	// The same page again: its version is stale, the API's 412, nothing
	// changes.
	if res := act("disable", version); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("stale disable: %d", res.StatusCode)
	}
	_, page = b.do(http.MethodGet, userPage, nil)
	if !strings.Contains(page, `class="error" role="alert"`) || !strings.Contains(page, "<dd>active</dd>") || !strings.Contains(page, "<dd>admin</dd>") {
		t.Fatalf("after a role change and a stale disable:\n%s", page)
	}
	if res := act("disable", find(t, versionRe, page)); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", res.StatusCode)
	}
	_, page = b.do(http.MethodGet, userPage, nil)
	if !strings.Contains(page, "<dd>disabled</dd>") {
		t.Fatalf("not disabled:\n%s", page)
	}
	if res := act("enable", find(t, versionRe, page)); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable: %d", res.StatusCode)
	}
	_, page = b.do(http.MethodGet, userPage, nil)
	if res := act("delete", find(t, versionRe, page)); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/users" {
		t.Fatalf("delete: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := b.do(http.MethodGet, userPage, nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("the deleted user's page: %d", res.StatusCode)
	}

	// An app: edit (a stale page is the API's 412, an empty name its
	// problem by the field), a service token shown once that works,
	// deactivate.
	var made struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Active  bool   `json:"active"`
		Version uint64 `json:"version"`
	}
	s.Do(http.MethodPost, "/v1/platform/apps", tok, map[string]any{"name": "editable", "requested_scopes": []string{"webhooks:read"}}).JSON(t, &made)
	if r := s.Do(http.MethodPost, "/v1/platform/apps/"+made.ID+"/scope-decisions", tok, map[string]any{"scope": "webhooks:read", "decision": "approve"}); r.Status != http.StatusOK {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	appPage := "/console/apps/" + made.ID
	_, page = b.do(http.MethodGet, appPage+"/edit", nil)
	editVersion := find(t, versionRe, page)
	edit := url.Values{"csrf_token": {csrf}, "version": {editVersion}, "name": {""}, "grant_types": {"client_credentials"}}
	if res, page := b.do(http.MethodPost, appPage+"/edit", edit); res.StatusCode < 400 || !strings.Contains(page, `id="name-error"`) {
		t.Fatalf("an empty name: %d, want the problem by the name field:\n%s", res.StatusCode, page)
	}
	edit.Set("name", "renamed")
	if notice, _ := b.back("edit", func() *http.Response { r, _ := b.do(http.MethodPost, appPage+"/edit", edit); return r }(), appPage); notice != "App saved." {
		t.Fatalf("edit: notice %q", notice)
	}
	if res, page := b.do(http.MethodPost, appPage+"/edit", edit); res.StatusCode != http.StatusPreconditionFailed || !strings.Contains(page, `role="alert"`) {
		t.Fatalf("a stale edit: %d, want the API's 412 on the form", res.StatusCode)
	}
	_, page = b.do(http.MethodGet, appPage, nil)
	res, page = b.do(http.MethodPost, appPage+"/tokens", url.Values{"csrf_token": {csrf}, "idempotency_key": {"st-" + find(t, idemRe, page)},
		"scopes": {"webhooks:read"}, "ttl_seconds": {"600"}})
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("service token: %d %s", res.StatusCode, page)
	}
	if r := s.Do(http.MethodGet, "/v1/webhooks", find(t, secretRe, page), nil); r.Status != http.StatusOK {
		t.Fatalf("the service token shown: %d", r.Status)
	}
	_, page = b.do(http.MethodGet, appPage, nil)
	res, _ = b.do(http.MethodPost, appPage+"/active", url.Values{"csrf_token": {csrf}, "idempotency_key": {"deact-" + find(t, idemRe, page)},
		"version": {find(t, versionRe, page)}, "active": {"false"}})
	if notice, _ := b.back("deactivate", res, appPage); !strings.Contains(notice, "deactivated") {
		t.Fatalf("deactivate: notice %q", notice)
	}
	s.Do(http.MethodGet, "/v1/platform/apps/"+made.ID, tok, nil).JSON(t, &made)
	if made.Active || made.Name != "renamed" {
		t.Fatalf("the app after the console's edit and deactivation: %+v", made)
	}

	// A second admin's console dies with their user: disabled through the
	// API, their next page signs in again.
	user(t, s, tok, "second@example.com", "admin")
	second := newBrowser(t, s)
	second.signIn("second@example.com")
	var users struct {
		Items []User `json:"items"`
	}
	s.Do(http.MethodGet, "/v1/platform/users?limit=100", tok, nil).JSON(t, &users)
	for _, u := range users.Items {
		if u.Email == "second@example.com" {
			if r := s.Do(http.MethodPatch, "/v1/platform/users/"+u.ID, tok, map[string]any{"disabled": true}); r.Status != http.StatusOK {
				t.Fatalf("disable: %d %s", r.Status, r.Body)
			}
		}
	}
	second.wantSignIn("a disabled user's console", "/console/apps")

	// Sign-out: the old cookie, replayed, is worth nothing.
	old := b.sessionCookie()
	replay := newBrowser(t, s)
	u, _ := url.Parse(s.URL + "/console/")
	replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: "gh_console", Value: old.Value, Path: "/console"}})
	if res, _ := replay.do(http.MethodGet, "/console/apps", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("a copy of the live cookie: %d", res.StatusCode)
	}
	_, page = b.do(http.MethodGet, "/console/catalog", nil)
	res, _ = b.do(http.MethodPost, "/console/logout", url.Values{"csrf_token": {find(t, csrfRe, page)}})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("logout: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	b.wantSignIn("after sign-out", "/console/apps")
	replay.wantSignIn("the signed-out cookie replayed", "/console/apps")
	// The sign-in session ended too: the authorization endpoint asks for
	// the login again.
	res, _ = b.do(http.MethodGet, "/console/apps", nil)
	res, _ = b.do(http.MethodGet, res.Header.Get("Location"), nil)
	if loc, _ := url.Parse(res.Header.Get("Location")); loc == nil || loc.Path != "/login" {
		t.Fatalf("after sign-out the authorization endpoint answers %q, want the login page", res.Header.Get("Location"))
	}
}

// User is the API's user.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

var (
	noticeRe  = regexp.MustCompile(`<p class="notice" role="status">([^<]*)</p>`)
	problemRe = regexp.MustCompile(`<p class="error" role="alert">([^<]*)</p>`)
)

// back follows a form's 303 to page and returns the notice and the error
// shown there (the session's flash).
func (b *browser) back(what string, res *http.Response, page string) (notice, problem string) {
	b.t.Helper()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != page {
		b.t.Fatalf("%s: %d to %q, want 303 to %s", what, res.StatusCode, res.Header.Get("Location"), page)
	}
	_, body := b.do(http.MethodGet, page, nil)
	if m := noticeRe.FindStringSubmatch(body); m != nil {
		notice = html.UnescapeString(m[1])
	}
	if m := problemRe.FindStringSubmatch(body); m != nil {
		problem = html.UnescapeString(m[1])
	}
	return notice, problem
}
