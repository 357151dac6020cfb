package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// The vault's forms over HTTP (the browser walk is
// e2e/console_vault_test.go): CSRF, a double submit of one rendered
// refresh form refreshes once, a stale rollback form changes nothing, and
// a member is refused every vault page and action with the API's 403.

var targetRe = regexp.MustCompile(`name="target" value="([0-9]+)"`)

func credentialVersions(t *testing.T, s *servertest.Server, tok, id string) []struct {
	Version int  `json:"version"`
	Current bool `json:"current"`
} {
	t.Helper()
	var vs struct {
		Items []struct {
			Version int  `json:"version"`
			Current bool `json:"current"`
		} `json:"items"`
	}
	r := s.Do(http.MethodGet, "/v1/credentials/"+id+"/versions", tok, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("versions: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &vs)
	return vs.Items
}

func TestConsoleVaultForms(t *testing.T) {
	s := servertest.New(t)
	tok := s.Token()
	user(t, s, tok, "admin@example.com", "admin")
	user(t, s, tok, "member@example.com", "member")
	// The server is its own provider: the bootstrap app's client
	// credentials at its own token endpoint.
	var cred struct {
		ID string `json:"id"`
	}
	if r := s.Do(http.MethodPost, "/v1/credentials", tok, map[string]any{"name": "self", "provider": "custom", "grant_type": "client_credentials",
		"client_id": s.AdminID, "client_secret": s.AdminSecret, "token_url": s.URL + "/v1/oauth/token", "scopes": []string{}}); r.Status != http.StatusCreated {
		t.Fatalf("create credential: %d %s", r.Status, r.Body)
	} else {
		r.JSON(t, &cred)
	}
	b := newBrowser(t, s)
	b.signIn("admin@example.com")
	res, page := b.do(http.MethodGet, "/console/credentials", nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, `href="/console/credentials/`+cred.ID+`"`) {
		t.Fatalf("vault page: %d %s", res.StatusCode, page)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self';") {
		t.Fatalf("the list's CSP %q", csp)
	}
	_, page = b.do(http.MethodGet, "/console/credentials/"+cred.ID, nil)
	csrf, idem, version := find(t, csrfRe, page), find(t, idemRe, page), find(t, versionRe, page)
	refresh := "/console/credentials/" + cred.ID + "/refresh"
	credPage := "/console/credentials/" + cred.ID

	// No CSRF token: refused, nothing refreshed.
	if res, _ := b.do(http.MethodPost, refresh, url.Values{"idempotency_key": {idem}, "version": {version}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("no CSRF token: %d, want 403", res.StatusCode)
	}
	if n := len(credentialVersions(t, s, tok, cred.ID)); n != 1 {
		t.Fatalf("%d versions after a forged refresh, want 1", n)
	}
	// One rendered form sent twice: one refresh.
	form := url.Values{"csrf_token": {csrf}, "idempotency_key": {idem}, "version": {version}}
	for i := range 2 {
		res, _ := b.do(http.MethodPost, refresh, form)
		if notice, _ := b.back("refresh", res, credPage); notice == "" {
			t.Fatalf("refresh %d: no notice", i)
		}
	}
	if vs := credentialVersions(t, s, tok, cred.ID); len(vs) != 2 || !vs[0].Current || vs[0].Version != 2 {
		t.Fatalf("versions after a double submit of one refresh: %+v, want 2 (one refresh)", vs)
	}

	// A stale page: the rollback form rendered before the refresh carries
	// the old version; the API's 412 comes back and nothing changes.
	_, fresh := b.do(http.MethodGet, "/console/credentials/"+cred.ID, nil)
	target := find(t, targetRe, fresh)
	res, _ = b.do(http.MethodPost, "/console/credentials/"+cred.ID+"/rollback", url.Values{"csrf_token": {csrf}, "idempotency_key": {"rb-stale-" + idem},
		"version": {version}, "target": {target}})
	if _, problem := b.back("a stale rollback", res, credPage); problem == "" {
		t.Fatalf("a stale rollback: the API's problem is not shown")
	}
	if vs := credentialVersions(t, s, tok, cred.ID); !vs[0].Current {
		t.Fatalf("a stale rollback changed the current version: %+v", vs)
	}
	// The fresh page's form rolls back.
	res, _ = b.do(http.MethodPost, "/console/credentials/"+cred.ID+"/rollback", url.Values{"csrf_token": {csrf}, "idempotency_key": {"rb-" + idem},
		"version": {find(t, versionRe, fresh)}, "target": {target}})
	if notice, _ := b.back("rollback", res, credPage); notice == "" {
		t.Fatalf("rollback: no notice")
	}
	if vs := credentialVersions(t, s, tok, cred.ID); vs[0].Current || !vs[1].Current {
		t.Fatalf("versions after the rollback: %+v", vs)
	}
	// Authorize on a client_credentials credential: the API's 409, shown
	// on the credential page.
	res, _ = b.do(http.MethodPost, "/console/credentials/"+cred.ID+"/authorize", url.Values{"csrf_token": {csrf}, "idempotency_key": {"az-" + idem}})
	if _, problem := b.back("authorize a client_credentials credential", res, credPage); !strings.Contains(problem, "client_credentials") {
		t.Fatalf("authorize a client_credentials credential: %q", problem)
	}
	// An unknown credential or activity: the API's 404.
	for _, p := range []string{"/console/credentials/cred_missing", "/console/activities/act_missing"} {
		if res, _ := b.do(http.MethodGet, p, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", p, res.StatusCode)
		}
	}

	// A member: every vault page and action is the API's 403.
	m := newBrowser(t, s)
	m.signIn("member@example.com")
	for _, p := range []string{"/console/credentials", "/console/credentials/" + cred.ID, "/console/activities"} {
		if res, page := m.do(http.MethodGet, p, nil); res.StatusCode != http.StatusForbidden || !strings.Contains(page, "credentials:read") {
			t.Errorf("member %s: %d, want the API's 403", p, res.StatusCode)
		}
	}
	_, page = m.do(http.MethodGet, "/console/catalog", nil)
	res, _ = m.do(http.MethodPost, refresh, url.Values{"csrf_token": {find(t, csrfRe, page)}, "idempotency_key": {"member-" + idem}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("member refresh: %d, want 403", res.StatusCode)
	}
	if vs := credentialVersions(t, s, tok, cred.ID); len(vs) != 2 {
		t.Fatalf("a member's refused refresh made a version: %+v", vs)
	}
}

// TestConsoleCredentialIDNamingAStaticRoute: the credential page's id is
// one path segment of its API reads, and the routes beside
// /v1/credentials/{id} that are names of their own took the ids that
// spell them: /console/credentials/callback read the provider callback's
// HTML page as a credential and answered 500. Each is the refusal page
// of a credential not found (404).
func TestConsoleCredentialIDNamingAStaticRoute(t *testing.T) {
	s := servertest.New(t)
	user(t, s, s.Token(), "admin@example.com", "admin")
	b := newBrowser(t, s)
	b.signIn("admin@example.com")
	for _, id := range []string{"health", "encryption-key", "callback"} {
		res, page := b.do(http.MethodGet, "/console/credentials/"+id, nil)
		if res.StatusCode != http.StatusNotFound || !strings.Contains(page, "not found") {
			t.Errorf("/console/credentials/%s: %d %s", id, res.StatusCode, page)
		}
	}
}
