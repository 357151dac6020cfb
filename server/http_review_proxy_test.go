package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

func TestReviewProxyAnswerHeaders(t *testing.T) {
	up := servertest.New(t)
	provider := createApp(t, up, up.Token(), map[string]any{"name": "provider-client"})
	var got http.Header
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		http.SetCookie(w, &http.Cookie{Name: "gh_csrf", Value: "attacker-chosen", Path: "/"})
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<script>alert(document.domain)</script>"))
	}))
	t.Cleanup(api.Close)
	s := servertest.New(t)
	admin := s.Token()
	app := createApp(t, s, admin, map[string]any{"name": "integrator", "requested_scopes": []string{"credentials:use"}})
	decide(t, s, admin, app.ID, "credentials:use", "approve")
	body := map[string]any{"name": "crm", "provider": "custom", "grant_type": "client_credentials", "client_id": provider.ClientID,
		"client_secret": provider.ClientSecret, "token_url": up.URL + "/v1/oauth/token", "scopes": []string{},
		"base_url": api.URL, "grants": []string{app.ID}}
	want(t, s.Do(http.MethodPost, "/v1/credentials", admin, body), http.StatusCreated)
	tok := s.TokenFor(app.ClientID, app.ClientSecret)
	r := s.Do(http.MethodGet, "/v1/proxy/crm/x", tok, nil, "Cookie", "gh_session=SECRET; gh_csrf=C; other=1", "X-Request-Id", "rid-1")
	t.Logf("status %d headers %v body %s", r.Status, r.Header, r.Body)
	t.Logf("upstream saw %v", got)
	if r.Status != http.StatusOK {
		t.Fatalf("proxy: %d %s", r.Status, r.Body)
	}
	if r.Header.Get("Set-Cookie") != "" {
		t.Errorf("the upstream set a cookie on Gatehouse's origin: %q", r.Header.Get("Set-Cookie"))
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") {
		t.Errorf("Content-Security-Policy %q, want a sandbox", csp)
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("X-Content-Type-Options %q, want nosniff", r.Header.Get("X-Content-Type-Options"))
	}
	if c := got.Get("Cookie"); strings.Contains(c, "gh_session") || strings.Contains(c, "gh_csrf") {
		t.Errorf("Gatehouse's cookies reached the upstream: %q", c)
	}
	if a := got.Get("Authorization"); a == "Bearer "+tok {
		t.Error("the caller's bearer reached the upstream")
	}
}
