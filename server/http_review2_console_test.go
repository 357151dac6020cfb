package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestReview2ConsoleRedirectURIExact: the console's built-in client
// (gatehouse-console.<tenant>, public, no consent) answers only at
// <issuer>/console/callback, exactly. With a loopback issuer (as here and
// in a developer's setup) fosite's RFC 8252 rule would let any port of
// the loopback address stand in: a link to /v1/oauth/authorize naming
// http://127.0.0.1:<another port>/console/callback and the linker's own
// PKCE challenge would hand a signed-in admin's code, without consent, to
// whatever listens on that port, and the linker could redeem it for
// tenant-admin tokens. It must get the error page, never a redirect.
func TestReview2ConsoleRedirectURIExact(t *testing.T) {
	s := servertest.New(t)
	userID := newUser(t, s, "ada@example.com")
	want(t, s.Do(http.MethodPatch, "/v1/platform/users/"+userID, s.Token(), map[string]any{"roles": []string{"admin"}}), http.StatusOK)
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	issuer, _ := url.Parse(s.URL)
	evil := "http://127.0.0.1:1/console/callback"
	if issuer.Port() == "1" {
		evil = "http://127.0.0.1:2/console/callback"
	}
	q := url.Values{"response_type": {"code"}, "client_id": {"gatehouse-console.default"}, "redirect_uri": {evil},
		"scope": {"openid offline_access platform:apps:read"}, "state": {"attacker-state-123"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	authURL := s.URL + "/v1/oauth/authorize?" + q.Encode()
	// The admin signs in (the login page) and the browser comes back to
	// the authorization endpoint with the same request.
	res, _ := b.get(authURL)
	if strings.HasPrefix(res.Header.Get("Location"), "/login") {
		res, body := b.follow(s.URL, res)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("login page %d: %s", res.StatusCode, body)
		}
		res, body = b.post(s.URL+"/login", url.Values{"csrf_token": {field(t, csrfRe, body)}, "return_to": {field(t, returnToRe, body)},
			"email": {"ada@example.com"}, "password": {idpPassword}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("login %d: %s", res.StatusCode, body)
		}
		res, _ = b.follow(s.URL, res)
		if loc := res.Header.Get("Location"); strings.HasPrefix(loc, "http://127.0.0.1:") && !strings.HasPrefix(loc, s.URL) {
			t.Fatalf("the console's code went to another port: %s", loc)
		}
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("authorize with a console redirect URI of another port: %d %q, want the 400 error page", res.StatusCode, res.Header.Get("Location"))
		}
		return
	}
	if loc := res.Header.Get("Location"); strings.HasPrefix(loc, "http://127.0.0.1:") && !strings.HasPrefix(loc, s.URL) {
		t.Fatalf("the console's code went to another port: %s", loc)
	}
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("authorize with a console redirect URI of another port: %d %q, want the 400 error page", res.StatusCode, res.Header.Get("Location"))
	}
}
