package server_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// codeFlowTokens runs the code flow of rp for a user signing in with
// email and returns the token response.
func codeFlowTokens(t *testing.T, s *servertest.Server, rp codeApp, email string) *oauth2.Token {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	q := newBrowser(t).signIn(s, rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-xyz-123")), email, true)
	tok, err := rp.cfg.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestIdPIDTokenRS256ByDefault: discovery lists RS256 first among the ID
// token algorithms (OIDC Discovery 1.0 §3), an app that names no
// id_token_signed_response_alg gets RS256 ID tokens (OIDC Registration
// 1.0 §2), which a relying party that accepts RS256 only verifies, on the
// code exchange and the refresh; access tokens stay ES256; the JWKS
// publishes both families.
func TestIdPIDTokenRS256ByDefault(t *testing.T) {
	s := servertest.New(t)
	rp := newCodeApp(t, s, "RS256 portal", "http://127.0.0.1:9/cb", "client_secret_basic")
	userID := newUser(t, s, "ada@example.com")
	ctx := oidc.ClientContext(t.Context(), http.DefaultClient)
	provider, err := oidc.NewProvider(ctx, s.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var meta struct {
		IDAlgs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := provider.Claims(&meta); err != nil || !slices.Equal(meta.IDAlgs, []string{"RS256", "ES256"}) {
		t.Fatalf("id_token_signing_alg_values_supported = %q (%v), want [RS256 ES256]", meta.IDAlgs, err)
	}
	var set struct{ Keys []struct{ Alg string } }
	if err := json.Unmarshal([]byte(s.Do(http.MethodGet, "/.well-known/jwks.json", "", nil).Body), &set); err != nil {
		t.Fatal(err)
	}
	algs := map[string]int{}
	for _, k := range set.Keys {
		algs[k.Alg]++
	}
	if algs["RS256"] == 0 || algs["ES256"] == 0 {
		t.Fatalf("the JWKS holds %v keys by algorithm, want RS256 and ES256 keys", algs)
	}
	rs256Only := provider.Verifier(&oidc.Config{ClientID: rp.ClientID, SupportedSigningAlgs: []string{oidc.RS256}})
	tok := codeFlowTokens(t, s, rp, "ada@example.com")
	for round := range 2 {
		raw, _ := tok.Extra("id_token").(string)
		idt, err := rs256Only.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("round %d: ID token (header %v) refused by an RS256-only verifier: %v", round, jwtHeader(t, raw), err)
		}
		if idt.Subject != userID {
			t.Fatalf("round %d: ID token sub %q", round, idt.Subject)
		}
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Fatalf("round %d: at_hash: %v", round, err)
		}
		if h := jwtHeader(t, tok.AccessToken); h["alg"] != "ES256" {
			t.Fatalf("round %d: access token header %v, want ES256", round, h)
		}
		// The refresh grant signs a new ID token the same way.
		if tok, err = rp.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
			t.Fatalf("refresh: %v", err)
		}
	}
}
