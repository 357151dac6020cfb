package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestIdPPKCERefusedBeforeLogin: an authorization request whose PKCE the
// code's exchange would refuse (RFC 7636 §4.4.1) is refused at once, by a
// browser without a session as by one with: an invalid_request redirect
// to the client's validated redirect URI, with error_description and the
// request's state (none when it sent none and relied on a challenge), never the login page, never a
// code. A code_challenge_method without a code_challenge is one of them
// (Keycloak: "Missing parameter: code_challenge"), for a confidential
// client too. A pushed request carrying any of them is refused at push
// time, 400 invalid_request; the good request passes both ways.
func TestIdPPKCERefusedBeforeLogin(t *testing.T) {
	s := servertest.New(t)
	public := newCodeApp(t, s, "CLI", "http://127.0.0.1/callback", "none")
	confidential := newCodeApp(t, s, "Portal", "https://portal.example.com/cb", "client_secret_basic")
	newUser(t, s, "ada@example.com")
	verifier := oauth2.GenerateVerifier()
	challenge := oauth2.S256ChallengeFromVerifier(verifier)
	set := oauth2.SetAuthURLParam
	type variant struct {
		name   string
		rp     codeApp
		params url.Values // the PKCE parameters sent (PAR: nil removes one)
	}
	bad := []variant{
		{"public client without PKCE", public, url.Values{"code_challenge": nil, "code_challenge_method": nil}},
		{"method without challenge, public", public, url.Values{"code_challenge": nil, "code_challenge_method": {"S256"}}},
		{"method without challenge, confidential", confidential, url.Values{"code_challenge": nil, "code_challenge_method": {"S256"}}},
		{"plain method", confidential, url.Values{"code_challenge": {verifier}, "code_challenge_method": {"plain"}}},
		{"no method (plain)", public, url.Values{"code_challenge": {verifier}, "code_challenge_method": nil}},
		{"unknown method", public, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S512"}}},
		{"method in lower case", public, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"s256"}}},
		{"challenge too short", public, url.Values{"code_challenge": {challenge[:42]}, "code_challenge_method": {"S256"}}},
		{"challenge too long", public, url.Values{"code_challenge": {challenge + "A"}, "code_challenge_method": {"S256"}}},
		{"challenge with padding", confidential, url.Values{"code_challenge": {challenge[:42] + "="}, "code_challenge_method": {"S256"}}},
		{"challenge outside the unreserved set", confidential, url.Values{"code_challenge": {challenge[:42] + "+"}, "code_challenge_method": {"S256"}}},
	}
	authURL := func(v variant, state string) string {
		var opts []oauth2.AuthCodeOption
		for k, vs := range v.params {
			if len(vs) > 0 {
				opts = append(opts, set(k, vs[0]))
			}
		}
		u := v.rp.cfg.AuthCodeURL(state, opts...)
		if state == "" {
			p, _ := url.Parse(u)
			q := p.Query()
			q.Del("state")
			p.RawQuery = q.Encode()
			u = p.String()
		}
		return u
	}
	refused := func(who string, b *browser, v variant, state string) {
		t.Helper()
		res, body := b.get(authURL(v, state))
		if loc := res.Header.Get("Location"); strings.HasPrefix(loc, "/login") || strings.HasPrefix(loc, "/consent") {
			t.Errorf("%s, %s: sent to %s, want refused before any page", who, v.name, loc)
			return
		}
		q := callbackQuery(t, res, body)
		wantState := []string(nil)
		if state != "" {
			wantState = []string{state}
		}
		if q.Get("error") != "invalid_request" || q.Get("error_description") == "" || q.Has("code") || !slices.Equal(q["state"], wantState) {
			t.Errorf("%s, %s: callback %v, want invalid_request with a description and state %v", who, v.name, q, wantState)
		}
		if !strings.HasPrefix(res.Header.Get("Location"), v.rp.cfg.RedirectURL) {
			t.Errorf("%s, %s: redirect to %q, want the client's %q", who, v.name, res.Header.Get("Location"), v.rp.cfg.RedirectURL)
		}
	}
	anon := newBrowser(t)
	for _, v := range bad {
		refused("no session", anon, v, "state-0123456789")
	}
	// A request without state relies on its PKCE (oauth.StateOrPKCE):
	// refused for it all the same, without a state in the answer.
	refused("no session, no state", anon, bad[5], "")

	// The good request goes to the login page; signed in, it gets a code,
	// and the bad ones are still refused (not the consent page either).
	good := variant{"S256", public, url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}}
	if res, _ := anon.get(authURL(good, "state-0123456789")); !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("a good request without a session: %d %q, want the login page", res.StatusCode, res.Header.Get("Location"))
	}
	signedIn := newBrowser(t)
	if q := signedIn.signIn(s, authURL(good, "state-0123456789"), "ada@example.com", true); q.Get("code") == "" {
		t.Fatalf("good request: %v", q)
	}
	for _, v := range bad {
		refused("signed in", signedIn, v, "state-0123456789")
	}

	// Pushed: refused at push time.
	for _, v := range bad {
		r, a := pushAuth(t, s, v.rp, verifier, v.params)
		if r.Status != http.StatusBadRequest || a.Error != "invalid_request" || !strings.Contains(string(r.Body), "error_description") {
			t.Errorf("PAR, %s: %d %s, want 400 invalid_request", v.name, r.Status, r.Body)
		}
	}
	if r, a := pushAuth(t, s, public, verifier, nil); r.Status != http.StatusCreated || a.RequestURI == "" {
		t.Fatalf("PAR, S256: %d %s", r.Status, r.Body)
	}
}

// TestIdPConsoleErrorNotRedirectedToAnotherPort: the console's built-in
// client answers at its one redirect URI exactly (see
// TestReview2ConsoleRedirectURIExact); a request of it naming another
// port of the loopback issuer that is refused up front, for its PKCE or
// its prompt, gets the error page too, not an error redirect with its
// state to whatever listens on that port.
func TestIdPConsoleErrorNotRedirectedToAnotherPort(t *testing.T) {
	s := servertest.New(t)
	b := newBrowser(t)
	issuer, _ := url.Parse(s.URL)
	evil := "http://127.0.0.1:1/console/callback"
	if issuer.Port() == "1" {
		evil = "http://127.0.0.1:2/console/callback"
	}
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	for name, extra := range map[string]url.Values{
		"plain PKCE":               {"code_challenge": {challenge}, "code_challenge_method": {"plain"}},
		"method without challenge": {"code_challenge_method": {"S256"}},
		"no PKCE":                  {},
		"a bogus prompt":           {"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "prompt": {"bogus"}},
	} {
		q := url.Values{"response_type": {"code"}, "client_id": {"gatehouse-console.default"}, "redirect_uri": {evil},
			"scope": {"openid offline_access platform:apps:read"}, "state": {"attacker-state-123"}}
		for k, v := range extra {
			q[k] = v
		}
		res, _ := b.get(s.URL + "/v1/oauth/authorize?" + q.Encode())
		if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
			t.Errorf("%s: %d %q, want the 400 error page", name, res.StatusCode, res.Header.Get("Location"))
		}
	}
}
