package vault

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/webhooks"
)

// quirk is a provider's token answer as its documentation gives it.
type quirk struct {
	name   string
	status int
	header map[string]string
	body   string
	// want of a success
	access, refresh, tokenType string
	expiresIn                  int64
	scopes                     []string
	// want of a refusal (code "" for a success)
	code       string
	revoked    bool
	retryAfter time.Duration
}

// TestRequestTokenProviderQuirks: the token answers of real providers,
// as they document them, are read as they mean: GitHub's form-encoded
// answers and its errors in a 200 (bad_refresh_token: the refresh token
// is revoked or expired), Google's refresh without a refresh token and
// with an id_token, Salesforce's answer without expires_in, Slack's
// ok:false errors in a 200 (invalid_refresh_token) and a user token
// given only in authed_user, Microsoft's expires_in as a string, scope as
// a JSON array, a 429's Retry-After, an HTML error page, a huge body.
func TestRequestTokenProviderQuirks(t *testing.T) {
	var cur quirk
	var accept string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		accept = r.Header.Get("Accept")
		for k, v := range cur.header {
			w.Header().Set(k, v)
		}
		if cur.status != 0 {
			w.WriteHeader(cur.status)
		}
		_, _ = w.Write([]byte(cur.body))
	}))
	defer up.Close()
	client := webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: true})
	ep := endpoint{tokenURL: up.URL, clientID: "cid", clientSecret: "secret", authInBody: true, scopeSeparator: " "}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
	js := map[string]string{"Content-Type": "application/json; charset=utf-8"}
	for _, q := range []quirk{
		{name: "github app user token (form-encoded)", header: form,
			body:   "access_token=ghu_1&expires_in=28800&refresh_token=ghr_1&refresh_token_expires_in=15811200&scope=&token_type=bearer",
			access: "ghu_1", refresh: "ghr_1", tokenType: "bearer", expiresIn: 28800},
		{name: "github app user token (json)", header: js,
			body:   `{"access_token":"ghu_2","expires_in":28800,"refresh_token":"ghr_2","refresh_token_expires_in":15811200,"scope":"","token_type":"bearer"}`,
			access: "ghu_2", refresh: "ghr_2", tokenType: "bearer", expiresIn: 28800},
		{name: "github revoked refresh token (200, form)", header: form,
			body: "error=bad_refresh_token&error_description=The+refresh+token+passed+is+incorrect+or+expired.&error_uri=https%3A%2F%2Fdocs.github.com",
			code: "bad_refresh_token", revoked: true},
		{name: "github revoked refresh token (200, json)", header: js,
			body: `{"error":"bad_refresh_token","error_description":"The refresh token passed is incorrect or expired.","error_uri":"https://docs.github.com"}`,
			code: "bad_refresh_token", revoked: true},
		{name: "a form answer labelled text/plain (older providers)", header: map[string]string{"Content-Type": "text/plain"},
			body:   "access_token=gho_3&scope=repo%2Cgist&token_type=bearer",
			access: "gho_3", tokenType: "bearer", scopes: []string{"repo", "gist"}},
		{name: "JSON labelled as a form", header: form, body: `{"access_token":"j","token_type":"Bearer","expires_in":60}`,
			access: "j", tokenType: "Bearer", expiresIn: 60},
		{name: "google refresh", header: js,
			body:   `{"access_token":"ya29.a","expires_in":3599,"scope":"openid https://www.googleapis.com/auth/userinfo.email","token_type":"Bearer","id_token":"eyJ.x.y"}`,
			access: "ya29.a", tokenType: "Bearer", expiresIn: 3599, scopes: []string{"openid", "https://www.googleapis.com/auth/userinfo.email"}},
		{name: "google revoked", status: 400, header: js, body: `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`,
			code: "invalid_grant", revoked: true},
		{name: "salesforce", header: js,
			body:   `{"access_token":"00Dx!AQ","signature":"CMJ4=","scope":"refresh_token api","instance_url":"https://na1.salesforce.com","id":"https://login.salesforce.com/id/00D/005","token_type":"Bearer","issued_at":"1278448832702"}`,
			access: "00Dx!AQ", tokenType: "Bearer", scopes: []string{"refresh_token", "api"}},
		{name: "slack v2 bot", header: js,
			body:   `{"ok":true,"access_token":"xoxb-1","token_type":"bot","scope":"commands,incoming-webhook","bot_user_id":"U1","app_id":"A1","team":{"name":"T","id":"T1"},"authed_user":{"id":"U2","scope":"chat:write","access_token":"xoxp-1","token_type":"user"}}`,
			access: "xoxb-1", tokenType: "bot", scopes: []string{"commands", "incoming-webhook"}},
		{name: "slack v2 user token only", header: js,
			body:   `{"ok":true,"app_id":"A1","authed_user":{"id":"U2","scope":"chat:write,users:read","access_token":"xoxe.xoxp-1","token_type":"user","expires_in":43200,"refresh_token":"xoxe-1-r"},"team":{"id":"T1"}}`,
			access: "xoxe.xoxp-1", refresh: "xoxe-1-r", tokenType: "user", expiresIn: 43200, scopes: []string{"chat:write", "users:read"}},
		{name: "slack rotation refresh", header: js,
			body:   `{"ok":true,"access_token":"xoxe.xoxb-2","expires_in":43200,"refresh_token":"xoxe-1-s","token_type":"bot","scope":"chat:write"}`,
			access: "xoxe.xoxb-2", refresh: "xoxe-1-s", tokenType: "bot", expiresIn: 43200, scopes: []string{"chat:write"}},
		{name: "slack revoked refresh token (200)", header: js, body: `{"ok":false,"error":"invalid_refresh_token"}`,
			code: "invalid_refresh_token", revoked: true},
		{name: "slack other error (200)", header: js, body: `{"ok":false,"error":"invalid_client_id"}`, code: "invalid_client_id"},
		{name: "dropbox", header: js, body: `{"access_token":"sl.x","expires_in":14400,"token_type":"bearer"}`,
			access: "sl.x", tokenType: "bearer", expiresIn: 14400},
		{name: "microsoft (v1 strings)", header: js,
			body:   `{"token_type":"Bearer","scope":"User.Read","expires_in":"3599","ext_expires_in":"3599","expires_on":"1700000000","access_token":"eyJ0","refresh_token":"0.AR"}`,
			access: "eyJ0", refresh: "0.AR", tokenType: "Bearer", expiresIn: 3599, scopes: []string{"User.Read"}},
		{name: "microsoft (v2)", header: js,
			body:   `{"token_type":"bearer","scope":"openid offline_access User.Read","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ1","refresh_token":"0.AS"}`,
			access: "eyJ1", refresh: "0.AS", tokenType: "bearer", expiresIn: 3599, scopes: []string{"openid", "offline_access", "User.Read"}},
		{name: "scope as a JSON array", header: js, body: `{"access_token":"a","token_type":"Bearer","expires_in":60,"scope":["read","write"]}`,
			access: "a", tokenType: "Bearer", expiresIn: 60, scopes: []string{"read", "write"}},
		{name: "strava", header: js,
			body:   `{"token_type":"Bearer","expires_at":1568775134,"expires_in":20566,"refresh_token":"e5n","access_token":"a4b","athlete":{"id":1},"scope":"read,activity:read"}`,
			access: "a4b", refresh: "e5n", tokenType: "Bearer", expiresIn: 20566, scopes: []string{"read", "activity:read"}},
		{name: "invalid_client (401)", status: 401, header: js, body: `{"error":"invalid_client"}`, code: "invalid_client"},
		{name: "429 Retry-After", status: 429, header: map[string]string{"Retry-After": "120"}, body: `{"error":"rate_limited"}`,
			code: "rate_limited", retryAfter: 120 * time.Second},
		{name: "429 bare", status: 429, header: map[string]string{"Retry-After": "90"}, code: "http_429", retryAfter: 90 * time.Second},
		{name: "503 Retry-After", status: 503, header: map[string]string{"Retry-After": "30", "Content-Type": "text/html"}, body: "<html>busy</html>",
			code: "http_503", retryAfter: 30 * time.Second},
		{name: "HTML error page", status: 500, header: map[string]string{"Content-Type": "text/html"}, body: "<!DOCTYPE html><html><body>Oops</body></html>", code: "http_500"},
		{name: "HTML in a 200", header: map[string]string{"Content-Type": "text/html"}, body: "<html>login</html>", code: "invalid_response"},
		{name: "huge body", header: js, body: `{"access_token":"` + strings.Repeat("a", maxTokenAnswer) + `"}`, code: "invalid_response"},
	} {
		t.Run(q.name, func(t *testing.T) {
			cur = q
			a, err := requestToken(t.Context(), client, ep, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"r"}})
			if accept != "application/json" {
				t.Fatalf("Accept %q, want application/json (GitHub answers a form otherwise)", accept)
			}
			if q.code != "" {
				var ue *UpstreamError
				if !errors.As(err, &ue) || ue.Code != q.code || ue.InvalidGrant() != q.revoked || ue.RetryAfter != q.retryAfter {
					t.Fatalf("got %#v (%v), want code %s revoked %v retry after %s", ue, err, q.code, q.revoked, q.retryAfter)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.tokens.AccessToken != q.access || a.tokens.RefreshToken != q.refresh || a.tokenType != q.tokenType || a.expiresIn != q.expiresIn ||
				!slices.Equal(a.scopes, q.scopes) {
				t.Fatalf("got %+v, want access %q refresh %q type %q expires %d scopes %q", a, q.access, q.refresh, q.tokenType, q.expiresIn, q.scopes)
			}
		})
	}
}

// TestRequestTokenSlowProvider: a provider that does not answer within
// the request's deadline is an UpstreamError (unreachable), which the
// refresh records and the API answers 502, not the bare deadline (a 500).
func TestRequestTokenSlowProvider(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer up.Close()
	defer close(release)
	client := webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: true, Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := requestToken(ctx, client, endpoint{tokenURL: up.URL, clientID: "cid"}, url.Values{"grant_type": {"client_credentials"}})
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Code != "unreachable" {
		t.Fatalf("slow provider: %v, want an UpstreamError unreachable", err)
	}
	// A caller that hung up is not the provider's failure.
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	if _, err := requestToken(ctx, client, endpoint{tokenURL: up.URL, clientID: "cid"}, url.Values{"grant_type": {"client_credentials"}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
