package oauth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/events"
)

// TestOneErrorWriter: the errors of the OAuth endpoints, whatever raised
// them, are RFC 6749 §5.2 documents that are never cached, with
// Retry-After when the client is to wait (503, 429) and a challenge on 401.
func TestOneErrorWriter(t *testing.T) {
	o, _ := fuzzOAuth(t, time.Now())
	e := echo.New()
	for _, tc := range []struct {
		name        string
		write       func(c echo.Context) error
		status      int
		code, retry string
		challenge   bool
	}{
		{"log away", func(c echo.Context) error {
			return o.oauthError(c, fmt.Errorf("append: %w", events.ErrUnavailable))
		}, http.StatusServiceUnavailable, "temporarily_unavailable", "5", false},
		{"limit", func(c echo.Context) error { return o.slowDown(c, 1500*time.Millisecond) },
			http.StatusTooManyRequests, "slow_down", "2", false},
		{"bad client", func(c echo.Context) error { return o.oauthError(c, fosite.ErrInvalidClient) },
			http.StatusUnauthorized, "invalid_client", "", true},
		{"failure", func(c echo.Context) error { return o.oauthError(c, fmt.Errorf("boom")) },
			http.StatusInternalServerError, "server_error", "", false},
	} {
		rec := httptest.NewRecorder()
		c := e.NewContext(httptest.NewRequest(http.MethodPost, tokenPath, nil), rec)
		if err := tc.write(c); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var body map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		h := rec.Header()
		if rec.Code != tc.status || body["error"] != tc.code || body["error_description"] == "" ||
			h.Get("Retry-After") != tc.retry || h.Get("Cache-Control") != "no-store" || (h.Get("WWW-Authenticate") != "") != tc.challenge {
			t.Errorf("%s: %d %v %v", tc.name, rec.Code, body, h)
		}
	}
}
