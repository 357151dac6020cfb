package server_test

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/server/servertest"
)

// issuedCodes counts the authz_code.issued events in s's log.
func issuedCodes(t *testing.T, s *servertest.Server) int {
	t.Helper()
	log := s.Server.Events.JetStream
	last, err := log.LastSeq(t.Context(), events.HighVolume)
	if err != nil || last == 0 {
		t.Fatalf("the high-volume stream's last sequence: %d %v", last, err)
	}
	n := 0
	done := errors.New("done")
	err = log.Follow(t.Context(), events.HighVolume, 0, func(_ context.Context, e events.Event) error {
		if e.Type == "authz_code.issued" {
			n++
		}
		if e.Seq >= last && !e.More {
			return done
		}
		return nil
	})
	if !errors.Is(err, done) {
		t.Fatalf("reading the high-volume stream: %v", err)
	}
	return n
}

// TestIdPRefusedPKCEIssuesNoCode: an authorization request refused for
// its PKCE (a public client without code_challenge, the plain method)
// gets invalid_request at its redirect URI and writes no code to the log
// (invariant 5). fosite's PKCE handler used to refuse it only after the
// explicit-grant handler had appended the code's authz_code.issued.
func TestIdPRefusedPKCEIssuesNoCode(t *testing.T) {
	s := servertest.New(t)
	rp := newCodeApp(t, s, "Portal", "http://127.0.0.1:9/callback", "client_secret_basic")
	public := newCodeApp(t, s, "CLI", "http://127.0.0.1/callback", "none")
	newUser(t, s, "ada@example.com")
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	if q := b.signIn(s, rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)), "ada@example.com", true); q.Get("code") == "" {
		t.Fatalf("callback %v", q)
	}
	if n := issuedCodes(t, s); n != 1 {
		t.Fatalf("%d codes issued after one authorization, want 1", n)
	}
	plain := rp.cfg.AuthCodeURL("state-0123456789", oauth2.SetAuthURLParam("code_challenge", oauth2.S256ChallengeFromVerifier(verifier)),
		oauth2.SetAuthURLParam("code_challenge_method", "plain"))
	res, body := b.get(plain)
	if q := callbackQuery(t, res, body); q.Get("error") != "invalid_request" || q.Get("code") != "" {
		t.Fatalf("the plain method: %v", q)
	}
	if q := b.signIn(s, public.cfg.AuthCodeURL("state-0123456789"), "ada@example.com", true); q.Get("error") != "invalid_request" || q.Get("code") != "" {
		t.Fatalf("a public client without PKCE: %v", q)
	}
	if n := issuedCodes(t, s); n != 1 {
		t.Fatalf("%d codes issued after two refused requests, want still 1", n)
	}
	// Refused before its consent page, the public app has no consent yet.
	if q := b.signIn(s, public.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)), "ada@example.com", true); q.Get("code") == "" {
		t.Fatalf("the public client with PKCE: %v", q)
	}
	if n := issuedCodes(t, s); n != 2 {
		t.Fatalf("%d codes issued after a second authorization, want 2", n)
	}
}
