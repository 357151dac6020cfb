package server_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
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

// TestIdPIDTokenAlgPerApp: an app's id_token_signed_response_alg (OIDC
// Registration 1.0 §2) is set at creation or by PATCH, shown in the App
// object, must be one of GATEHOUSE_ID_TOKEN_ALGS (400 naming the field,
// nothing changed), and signs its ID tokens: ES256 on the code exchange
// and the refresh, with at_hash of SHA-256.
func TestIdPIDTokenAlgPerApp(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	for _, bad := range []any{"HS256", "none", "", 256} {
		r := s.Do(http.MethodPost, "/v1/platform/apps", admin, map[string]any{"name": "bad alg", "grant_types": []string{"client_credentials"},
			"id_token_signed_response_alg": bad})
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "id_token_signed_response_alg") {
			t.Fatalf("create with id_token_signed_response_alg %v: %d %s", bad, r.Status, r.Body)
		}
	}
	var shown struct {
		ID      string  `json:"id"`
		Alg     *string `json:"id_token_signed_response_alg"`
		Version uint64  `json:"version"`
	}
	want(t, s.Do(http.MethodPost, "/v1/platform/apps", admin, map[string]any{"name": "svc", "grant_types": []string{"client_credentials"}}),
		http.StatusCreated).JSON(t, &shown)
	if shown.Alg != nil {
		t.Fatalf("an app that named no algorithm shows %q", *shown.Alg)
	}
	before := shown.Version
	r := s.Do(http.MethodPatch, "/v1/platform/apps/"+shown.ID, admin, map[string]any{"id_token_signed_response_alg": "EdDSA"})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "id_token_signed_response_alg") {
		t.Fatalf("PATCH to EdDSA, not configured: %d %s", r.Status, r.Body)
	}
	want(t, s.Do(http.MethodPatch, "/v1/platform/apps/"+shown.ID, admin, map[string]any{"id_token_signed_response_alg": "ES256"}), http.StatusOK).JSON(t, &shown)
	if shown.Alg == nil || *shown.Alg != "ES256" || shown.Version != before+1 {
		t.Fatalf("after PATCH: alg %v version %d (was %d; the refused PATCH must change nothing)", shown.Alg, shown.Version, before)
	}
	rp := newCodeApp(t, s, "ES256 portal", "http://127.0.0.1:9/cb", "client_secret_basic", map[string]any{"id_token_signed_response_alg": "ES256"})
	newUser(t, s, "ada@example.com")
	ctx := oidc.ClientContext(t.Context(), http.DefaultClient)
	provider, err := oidc.NewProvider(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	es256Only := provider.Verifier(&oidc.Config{ClientID: rp.ClientID, SupportedSigningAlgs: []string{oidc.ES256}})
	tok := codeFlowTokens(t, s, rp, "ada@example.com")
	for round := range 2 {
		raw, _ := tok.Extra("id_token").(string)
		idt, err := es256Only.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("round %d: ID token (header %v) of an app asking for ES256: %v", round, jwtHeader(t, raw), err)
		}
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Fatalf("round %d: at_hash: %v", round, err)
		}
		if tok, err = rp.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
			t.Fatalf("refresh: %v", err)
		}
	}
}
