package vault

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/webhooks"
)

// TestRefreshAt: the lead is refresh_before_seconds, at most half the
// token's life, less a jitter of at most a tenth of the lead (at most a
// minute).
func TestRefreshAt(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		life          time.Duration
		before        int
		earliest, end time.Duration // of the refresh, after now
	}{
		{time.Hour, 300, 55*time.Minute - 30*time.Second, 55 * time.Minute},
		{60 * time.Second, 300, 27 * time.Second, 30 * time.Second},
		{24 * time.Hour, 3600, 23*time.Hour - time.Minute, 23 * time.Hour},
	} {
		for range 50 {
			at := refreshAt(now, now.Add(tc.life), tc.before)
			if d := at.Sub(now); d < tc.earliest || d > tc.end {
				t.Fatalf("life %s, before %d: refresh after %s, want within [%s, %s]", tc.life, tc.before, d, tc.earliest, tc.end)
			}
		}
	}
}

// TestBackoff: 5 s doubling to the 5 min cap, plus up to 20 % jitter.
func TestBackoff(t *testing.T) {
	base := 5 * time.Second
	for n := 1; n <= 10; n++ {
		for range 20 {
			if d := backoff(n); d < base || d > base*6/5 {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", n, d, base, base*6/5)
			}
		}
		base = min(2*base, maxBackoff)
	}
}

// TestRequestToken: Basic or body client authentication as the preset
// says, JSON and form answers, RFC 6749 §5.2 errors (also in a 200, as
// GitHub sends them), a non-JSON failure, an answer without a token, and
// the guarded client refusing loopback unless allowed.
func TestRequestToken(t *testing.T) {
	var last *http.Request
	var answer func(w http.ResponseWriter)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		last = r
		answer(w)
	}))
	defer up.Close()
	client := webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: true})
	ep := endpoint{tokenURL: up.URL, clientID: "c id", clientSecret: "s&cret", scopeSeparator: " "}
	ctx := context.Background()

	answer = func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"at","refresh_token":"rt","token_type":"bearer","expires_in":"3600","scope":"a,b"}`))
	}
	a, err := requestToken(ctx, client, ep, url.Values{"grant_type": {"client_credentials"}})
	if err != nil || a.tokens.AccessToken != "at" || a.tokens.RefreshToken != "rt" || a.expiresIn != 3600 || len(a.scopes) != 2 || a.tokenType != "bearer" {
		t.Fatalf("answer %+v, %v", a, err)
	}
	if u, p, ok := last.BasicAuth(); !ok || u != "c+id" || p != "s%26cret" || last.PostForm.Get("client_secret") != "" {
		t.Fatalf("basic %q %q %v, form %v", u, p, ok, last.PostForm)
	}
	ep.authInBody = true
	answer = func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		_, _ = w.Write([]byte(`access_token=at2&token_type=bearer&expires_in=60`))
	}
	if a, err := requestToken(ctx, client, ep, url.Values{"grant_type": {"client_credentials"}}); err != nil || a.tokens.AccessToken != "at2" || a.expiresIn != 60 {
		t.Fatalf("form answer %+v, %v", a, err)
	}
	if _, _, ok := last.BasicAuth(); ok || last.PostForm.Get("client_id") != "c id" || last.PostForm.Get("client_secret") != "s&cret" {
		t.Fatalf("body auth: %v", last.PostForm)
	}
	for _, tc := range []struct {
		status int
		body   string
		code   string
	}{
		{400, `{"error":"invalid_grant","error_description":"expired"}`, "invalid_grant"},
		{200, `{"error":"bad_verification_code"}`, "bad_verification_code"},
		{503, `<html>down</html>`, "http_503"},
		{200, `{"token_type":"bearer"}`, "invalid_response"},
		{200, `not json`, "invalid_response"},
	} {
		answer = func(w http.ResponseWriter) { w.WriteHeader(tc.status); _, _ = w.Write([]byte(tc.body)) }
		_, err := requestToken(ctx, client, ep, url.Values{"grant_type": {"refresh_token"}})
		var ue *UpstreamError
		if !errors.As(err, &ue) || ue.Code != tc.code {
			t.Fatalf("%d %s: %v, want %s", tc.status, tc.body, err, tc.code)
		}
	}
	guarded := webhooks.NewClient(webhooks.ClientConfig{})
	_, err = requestToken(ctx, guarded, ep, url.Values{"grant_type": {"client_credentials"}})
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Code != "unreachable" {
		t.Fatalf("loopback through the guarded client: %v", err)
	}
}
