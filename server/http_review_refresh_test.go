package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

func TestReviewUpstream401RefreshesOnce(t *testing.T) {
	var tokens atomic.Int64
	tokenEP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := tokens.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "tok" + string(rune('a'+n)), "token_type": "Bearer", "expires_in": 3600})
	}))
	t.Cleanup(tokenEP.Close)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) }))
	t.Cleanup(api.Close)
	s := servertest.New(t)
	admin := s.Token()
	app := createApp(t, s, admin, map[string]any{"name": "integrator", "requested_scopes": []string{"credentials:use"}})
	decide(t, s, admin, app.ID, "credentials:use", "approve")
	body := map[string]any{"name": "crm", "provider": "custom", "grant_type": "client_credentials", "client_id": "x",
		"client_secret": "y", "token_url": tokenEP.URL, "scopes": []string{}, "base_url": api.URL, "grants": []string{app.ID}}
	r := s.Do(http.MethodPost, "/v1/credentials", admin, body)
	if r.Status != http.StatusCreated {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	tok := s.TokenFor(app.ClientID, app.ClientSecret)
	before := tokens.Load()
	for range 20 {
		if r := s.Do(http.MethodGet, "/v1/proxy/crm/any", tok, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("proxy: %d %s, want the upstream's 401", r.Status, r.Body)
		}
	}
	// The first 401 refreshes once and retries; the retry's 401 shows the
	// token is not the cause, so the next ones are answered as they are.
	if n := tokens.Load() - before; n != 1 {
		t.Errorf("20 proxied requests answered 401 by the API made %d token requests to the provider, want 1", n)
	}
}
