package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestIdPStateOptionalWithPKCE: a client that relies on PKCE for CSRF
// protection (RFC 9700 §2.1, §4.7.1), as openid-client 6 does with a
// server that supports S256, sends no state: its request is served, and
// no answer (the code, an error, the user's denial) carries a state it
// did not send, which such a client refuses. Without PKCE a state is
// still required, and a state that is sent still needs 8 characters
// (fosite's rule), also through PAR; the refusal is invalid_request
// (RFC 6749 §4.1.2.1, §5.2: fosite's invalid_state is no registered
// error code).
func TestIdPStateOptionalWithPKCE(t *testing.T) {
	s := servertest.New(t)
	rp, b, _, _ := exchanged(t, s, "http://127.0.0.1:9/cb")
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, http.DefaultClient)
	verifier := oauth2.GenerateVerifier()
	pkce := oauth2.S256ChallengeOption(verifier)
	noState := func(what string, res *http.Response) url.Values {
		t.Helper()
		q := callbackQuery(t, res, "")
		if q.Has("state") {
			t.Fatalf("%s: the answer carries a state the request did not send: %s", what, res.Header.Get("Location"))
		}
		return q
	}

	res, _ := b.get(rp.cfg.AuthCodeURL("", pkce))
	q := noState("PKCE, no state", res)
	if _, err := rp.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("PKCE, no state: code %q: %v", q.Get("code"), err)
	}

	res, _ = b.get(rp.cfg.AuthCodeURL(""))
	if q := noState("no state, no PKCE", res); q.Get("error") != "invalid_request" || !strings.Contains(q.Get("error_description"), "state") {
		t.Fatalf("no state, no PKCE: %v, want invalid_request about the state", q)
	}
	res, _ = b.get(rp.cfg.AuthCodeURL("short", pkce))
	if q := callbackQuery(t, res, ""); q.Get("error") != "invalid_request" || q.Get("state") != "short" {
		t.Fatalf("a state of 5 characters: %v, want invalid_request with the state", q)
	}
	res, _ = b.get(rp.cfg.AuthCodeURL("", pkce, oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("max_age", "0")))
	if q := noState("prompt=none past max_age, no state", res); q.Get("error") != "login_required" {
		t.Fatalf("prompt=none past max_age: %v, want login_required", q)
	}
	q = newBrowser(t).signIn(s, rp.cfg.AuthCodeURL("", pkce, oauth2.SetAuthURLParam("prompt", "consent")), "ada@example.com", false)
	if q.Has("state") || q.Get("error") != "access_denied" {
		t.Fatalf("denied, no state: %v, want access_denied without state", q)
	}

	// Pushed (RFC 9126): the push and the authorization it stands for.
	r, a := pushAuth(t, s, rp, verifier, url.Values{"state": nil})
	if r.Status != http.StatusCreated {
		t.Fatalf("PAR with PKCE and no state: %d %s", r.Status, r.Body)
	}
	res, _ = b.get(parAuthURL(s, rp.ClientID, a.RequestURI))
	q = noState("PAR, no state", res)
	if _, err := rp.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("PAR, no state: code %q: %v", q.Get("code"), err)
	}
	if r, a := pushAuth(t, s, rp, verifier, url.Values{"state": nil, "code_challenge": nil, "code_challenge_method": nil}); r.Status != http.StatusBadRequest || a.Error != "invalid_request" {
		t.Fatalf("PAR with neither state nor PKCE: %d %s, want 400 invalid_request", r.Status, r.Body)
	}
}
