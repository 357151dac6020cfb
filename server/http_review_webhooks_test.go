package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

func TestReviewAdminMayNotRepointAnotherAppsWebhook(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(sink.Close)
	b := createApp(t, s, admin, map[string]any{"name": "b", "requested_scopes": []string{"webhooks:write", "webhooks:read", "platform:apps:read"}})
	decide(t, s, admin, b.ID, "webhooks:write", "approve")
	decide(t, s, admin, b.ID, "webhooks:read", "approve")
	decide(t, s, admin, b.ID, "platform:apps:read", "approve")
	bt := s.TokenFor(b.ClientID, b.ClientSecret)
	var h struct {
		ID     string   `json:"id"`
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}
	r := s.Do(http.MethodPost, "/v1/webhooks", bt, map[string]any{"url": sink.URL + "/b", "events": []string{"webhook.disabled"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &h)
	r = s.Do(http.MethodPatch, "/v1/webhooks/"+h.ID, admin, map[string]any{"url": sink.URL + "/attacker", "events": []string{"user.created"}})
	if r.Status != http.StatusNotFound {
		t.Errorf("admin PATCH of app b's webhook: %d %s, want 404", r.Status, r.Body)
	}
	r = s.Do(http.MethodDelete, "/v1/webhooks/"+h.ID, admin, nil)
	if r.Status != http.StatusNotFound {
		t.Errorf("admin DELETE of app b's webhook: %d %s, want 404", r.Status, r.Body)
	}
	r = s.Do(http.MethodGet, "/v1/webhooks/"+h.ID, bt, nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), sink.URL+"/b") {
		t.Errorf("app b's webhook changed: %d %s", r.Status, r.Body)
	}
}
