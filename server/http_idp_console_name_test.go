package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestHTTPConsoleSignInNamesTheConsole: the sign-in page of the console's
// built-in client names it as every page for a person does (idp's
// appName): "Gatehouse console", in its tenant.
func TestHTTPConsoleSignInNamesTheConsole(t *testing.T) {
	s := servertest.New(t)
	b := newBrowser(t)
	q := url.Values{"response_type": {"code"}, "client_id": {"gatehouse-console.default"}, "redirect_uri": {s.URL + "/console/callback"},
		"scope": {"openid"}, "state": {"state-0123456789"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"}}
	res, _ := b.get(s.URL + "/v1/oauth/authorize?" + q.Encode())
	if !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("authorize without a session: %d %q, want the login page", res.StatusCode, res.Header.Get("Location"))
	}
	res, body := b.follow(s.URL, res)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "<strong>Gatehouse console</strong> asks you to sign in to <strong>default</strong>") {
		t.Fatalf("login page %d does not name the console in its tenant:\n%s", res.StatusCode, body)
	}
}
