package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestHTTPOptionalBodyMayBeAbsent: a POST whose JSON fields are all
// optional (an app's and a webhook's secret rotation) needs no body: one
// with none and no Content-Type acts as {} (the default grace period); a
// body with another Content-Type is still 415, and one with no
// Content-Type too.
func TestHTTPOptionalBodyMayBeAbsent(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(rcv.Close)
	var a app
	want(t, s.Do(http.MethodPost, "/v1/platform/apps", admin, map[string]any{"name": "no-body"}), http.StatusCreated).JSON(t, &a)
	var w webhook
	want(t, s.Do(http.MethodPost, "/v1/webhooks", admin, map[string]any{"url": rcv.URL, "events": []string{"app.created"}}), http.StatusCreated).JSON(t, &w)

	for _, path := range []string{"/v1/platform/apps/" + a.ID + "/secrets", "/v1/webhooks/" + w.ID + "/secret/rotate"} {
		var rotated struct {
			PreviousExpiresAt time.Time `json:"previous_expires_at"`
		}
		want(t, s.Do(http.MethodPost, path, admin, nil), http.StatusCreated).JSON(t, &rotated)
		if left := time.Until(rotated.PreviousExpiresAt); left < 23*time.Hour || left > 24*time.Hour {
			t.Fatalf("%s with no body: the previous secret ends in %v, want the default grace period (24 h)", path, left)
		}
		wantProblem(t, s.Do(http.MethodPost, path, admin, nil, "Content-Type", "text/plain"), http.StatusUnsupportedMediaType, "unsupported_media_type")
		body := map[string]any{"grace_period_seconds": 0}
		wantProblem(t, s.Do(http.MethodPost, path, admin, body, "Content-Type", ""), http.StatusUnsupportedMediaType, "unsupported_media_type")
	}
}
