package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestHTTPCredentialsProviderQuirks: a provider answering as some real
// ones do, through the API and the proxy. Its token answer gives scope
// as a JSON array and expires_in as a string (Microsoft's older
// endpoints): the credential is created (before: 502 "not JSON") and its
// token injected by the proxy. When the API then answers 401 and the
// refresh is refused in a 200 the way Slack says a refresh token is
// revoked (ok:false, invalid_refresh_token), the proxy answers 502 naming
// it, the credential is revoked (not retried: its health shows no next
// attempt) and the proxy no longer serves it (409); no token is in any
// answer.
func TestHTTPCredentialsProviderQuirks(t *testing.T) {
	var mu sync.Mutex
	refreshAnswer := ""
	var seen []string
	tokenEP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("grant_type") == "refresh_token" {
			_, _ = w.Write([]byte(refreshAnswer))
			return
		}
		_, _ = w.Write([]byte(`{"token_type":"Bearer","scope":["files.read","files.write"],"expires_in":"3599","ext_expires_in":"3599","access_token":"up-at-1","refresh_token":"up-rt-1"}`))
	}))
	t.Cleanup(tokenEP.Close)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.URL.Path == "/revoked" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(api.Close)
	s := servertest.New(t)
	admin := s.Token()
	app := createApp(t, s, admin, map[string]any{"name": "integrator", "requested_scopes": []string{"credentials:use"}})
	decide(t, s, admin, app.ID, "credentials:use", "approve")
	var c credential
	want(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": "files", "provider": "custom", "grant_type": "client_credentials",
		"client_id": "x", "client_secret": "y", "token_url": tokenEP.URL, "scopes": []string{}, "base_url": api.URL, "grants": []string{app.ID}}),
		http.StatusCreated).JSON(t, &c)
	one := "/v1/credentials/" + c.ID
	r := want(t, s.Do(http.MethodGet, one, admin, nil), http.StatusOK)
	if strings.Contains(string(r.Body), "up-at-1") || strings.Contains(string(r.Body), "up-rt-1") {
		t.Fatalf("a token in the credential: %s", r.Body)
	}
	r.JSON(t, &c)
	if c.Status != "active" || c.ExpiresAt == nil {
		t.Fatalf("created %s", r.Body)
	}
	var vers struct {
		Items []struct {
			Scopes []string `json:"scopes"`
		} `json:"items"`
	}
	want(t, s.Do(http.MethodGet, one+"/versions", admin, nil), http.StatusOK).JSON(t, &vers)
	if len(vers.Items) != 1 || strings.Join(vers.Items[0].Scopes, " ") != "files.read files.write" {
		t.Fatalf("versions %+v, want the answer's scopes", vers.Items)
	}
	tok := s.TokenFor(app.ClientID, app.ClientSecret)
	want(t, s.Do(http.MethodGet, "/v1/proxy/files/list", tok, nil), http.StatusOK)
	mu.Lock()
	got := seen[len(seen)-1]
	refreshAnswer = `{"ok":false,"error":"invalid_refresh_token"}`
	mu.Unlock()
	if got != "Bearer up-at-1" {
		t.Fatalf("the API saw Authorization %q", got)
	}

	// The API refuses the token; the provider refuses the refresh.
	r = s.Do(http.MethodGet, "/v1/proxy/files/revoked", tok, nil)
	wantProblem(t, r, http.StatusBadGateway, "upstream_error")
	if !strings.Contains(string(r.Body), "invalid_refresh_token") {
		t.Fatalf("proxy answer %s", r.Body)
	}
	var h credHealth
	want(t, s.Do(http.MethodGet, one+"/health", admin, nil), http.StatusOK).JSON(t, &h)
	if h.Status != "revoked" || h.NextRefreshAt != nil || h.LastError == nil || !strings.HasPrefix(*h.LastError, "invalid_refresh_token") {
		t.Fatalf("health %+v, want revoked with no next attempt", h)
	}
	wantProblem(t, s.Do(http.MethodGet, "/v1/proxy/files/list", tok, nil), http.StatusConflict, "conflict")
}

// TestHTTPProxyUnrefreshable401: a GitHub OAuth App's token (a form
// answer with no expires_in and no refresh_token) that the user revoked
// at GitHub: the API answers 401. The credential has nothing to refresh
// with, so the proxy passes the provider's 401 on as it is, instead of
// trying a refresh that cannot happen and answering 502 "the upstream
// API is unreachable".
func TestHTTPProxyUnrefreshable401(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		http.Redirect(w, r, q.Get("redirect_uri")+"?code=c0de&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	var tokenRequests atomic.Int64
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		tokenRequests.Add(1)
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		_, _ = w.Write([]byte("access_token=gho_16C7e42F292c6912E7710c838347Ae178B4a&scope=repo%2Cgist&token_type=bearer"))
	})
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`))
	})
	gh := httptest.NewServer(mux)
	t.Cleanup(gh.Close)
	s := servertest.New(t)
	admin := s.Token()
	app := createApp(t, s, admin, map[string]any{"name": "integrator", "requested_scopes": []string{"credentials:use"}})
	decide(t, s, admin, app.ID, "credentials:use", "approve")
	var c struct {
		credential
		AuthorizeURL string `json:"authorize_url"`
	}
	want(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": "gh", "provider": "custom", "client_id": "Iv1.x",
		"client_secret": "s", "auth_url": gh.URL + "/authorize", "token_url": gh.URL + "/login/oauth/access_token", "scopes": []string{"repo"},
		"base_url": gh.URL + "/api", "grants": []string{app.ID}}), http.StatusCreated).JSON(t, &c)
	res, _ := get(t, c.AuthorizeURL)
	if res, page := get(t, res.Header.Get("Location")); res.StatusCode != http.StatusOK {
		t.Fatalf("callback %d %s", res.StatusCode, page)
	}
	var h credHealth
	want(t, s.Do(http.MethodGet, "/v1/credentials/"+c.ID+"/health", admin, nil), http.StatusOK).JSON(t, &h)
	if h.Status != "active" || h.ExpiresAt != nil || h.NextRefreshAt != nil {
		t.Fatalf("health %+v, want active with no expiry and no refresh", h)
	}
	tok := s.TokenFor(app.ClientID, app.ClientSecret)
	before := tokenRequests.Load()
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		r := s.Do(method, "/v1/proxy/gh/user", tok, nil)
		if r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), "Bad credentials") {
			t.Fatalf("%s proxied: %d %s, want the provider's 401", method, r.Status, r.Body)
		}
	}
	if n := tokenRequests.Load() - before; n != 0 {
		t.Fatalf("%d token requests for a credential with nothing to refresh with", n)
	}
}
