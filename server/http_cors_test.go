package server_test

import (
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestCORS: a browser app (a public client of the code flow) calls the
// token, revocation and userinfo endpoints from its own origin, which
// must be the origin of one of its approved redirect URIs (one on a
// loopback IP at any port) for its script to read the answer; another
// origin reads nothing. Preflights are answered for any origin, with the
// methods and headers the endpoint takes. The discovery documents and the
// JWKS are readable by any origin. A request without Origin gets no CORS
// header.
func TestCORS(t *testing.T) {
	s := servertest.New(t)
	const app, evil = "http://127.0.0.1:5173", "https://evil.example"
	allowed := func(r servertest.Response) string { return r.Header.Get("Access-Control-Allow-Origin") }

	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/.well-known/jwks.json"} {
		if r := want(t, s.Do(http.MethodGet, path, "", nil, "Origin", evil), http.StatusOK); allowed(r) != "*" {
			t.Errorf("GET %s from another origin: Access-Control-Allow-Origin %q, want *", path, allowed(r))
		}
	}
	for path, methods := range map[string]string{"/v1/oauth/token": "POST", "/v1/oauth/revoke": "POST", "/v1/oauth/userinfo": "GET, POST"} {
		r := want(t, s.Do(http.MethodOptions, path, "", nil, "Origin", app, "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization"), http.StatusNoContent)
		if allowed(r) != app || r.Header.Get("Access-Control-Allow-Methods") != methods ||
			r.Header.Get("Access-Control-Allow-Headers") != "Authorization, Content-Type" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight of %s: %v", path, r.Header)
		}
	}

	// A public client redeems its code from its page's origin.
	cli := newCodeApp(t, s, "SPA", "http://127.0.0.1/callback", "none")
	newUser(t, s, "ada@example.com")
	b := newBrowser(t)
	redeem := func(origin string) (servertest.Response, *oauth2.Token) {
		t.Helper()
		verifier := oauth2.GenerateVerifier()
		q := b.signIn(s, cli.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)), "ada@example.com", true)
		r := want(t, s.Form("/v1/oauth/token", "", "", map[string][]string{"grant_type": {"authorization_code"}, "client_id": {cli.ClientID},
			"code": {q.Get("code")}, "redirect_uri": {cli.cfg.RedirectURL}, "code_verifier": {verifier}}, "Origin", origin), http.StatusOK)
		var tok oauth2.Token
		r.JSON(t, &tok)
		return r, &tok
	}
	r, tok := redeem(app)
	if allowed(r) != app || r.Header.Get("Vary") == "" {
		t.Fatalf("token answer to the app's origin: Access-Control-Allow-Origin %q, Vary %q", allowed(r), r.Header.Get("Vary"))
	}
	if r, _ := redeem(evil); allowed(r) != "" {
		t.Fatalf("token answer to another origin: Access-Control-Allow-Origin %q", allowed(r))
	}
	if r := want(t, s.Do(http.MethodGet, "/v1/oauth/userinfo", tok.AccessToken, nil, "Origin", app), http.StatusOK); allowed(r) != app {
		t.Fatalf("userinfo to the app's origin: Access-Control-Allow-Origin %q", allowed(r))
	}
	if r := want(t, s.Do(http.MethodGet, "/v1/oauth/userinfo", tok.AccessToken, nil, "Origin", evil), http.StatusOK); allowed(r) != "" {
		t.Fatalf("userinfo to another origin: Access-Control-Allow-Origin %q", allowed(r))
	}
	if r := want(t, s.Do(http.MethodGet, "/v1/oauth/userinfo", tok.AccessToken, nil), http.StatusOK); allowed(r) != "" || r.Header.Get("Vary") != "" {
		t.Fatalf("userinfo without Origin: %v", r.Header)
	}
	r = want(t, s.Form("/v1/oauth/revoke", "", "", map[string][]string{"client_id": {cli.ClientID}, "token": {tok.RefreshToken}}, "Origin", app), http.StatusOK)
	if allowed(r) != app {
		t.Fatalf("revocation to the app's origin: Access-Control-Allow-Origin %q", allowed(r))
	}

	// A confidential client's origin is its redirect URI's, port included.
	rp := newCodeApp(t, s, "Portal", "https://portal.example.com/cb", "client_secret_basic")
	for origin, ok := range map[string]bool{"https://portal.example.com": true, "https://portal.example.com:8443": false, "http://portal.example.com": false} {
		r := s.Form("/v1/oauth/token", rp.ClientID, rp.ClientSecret, map[string][]string{"grant_type": {"client_credentials"}}, "Origin", origin)
		if got := allowed(r) == origin; got != ok {
			t.Errorf("token answer (%d) to %s: Access-Control-Allow-Origin %q", r.Status, origin, allowed(r))
		}
	}
}
