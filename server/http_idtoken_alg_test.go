package server_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// checkIDTokens runs the code flow of rp for a user signing in with email,
// then a refresh, and checks that a relying party accepting alg only
// verifies each ID token and its at_hash; check sees each of them with
// its token response.
func checkIDTokens(t *testing.T, s *servertest.Server, rp codeApp, email, alg string, check func(idt *oidc.IDToken, tok *oauth2.Token)) {
	t.Helper()
	ctx := oidc.ClientContext(t.Context(), http.DefaultClient)
	provider, err := oidc.NewProvider(ctx, s.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	only := provider.Verifier(&oidc.Config{ClientID: rp.ClientID, SupportedSigningAlgs: []string{alg}})
	verifier := oauth2.GenerateVerifier()
	q := newBrowser(t).signIn(s, rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-xyz-123")), email, true)
	tok, err := rp.cfg.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"code exchange", "refresh"} {
		if step == "refresh" {
			if tok, err = rp.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
				t.Fatalf("refresh: %v", err)
			}
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := only.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("%s: ID token (header %v) refused by a relying party accepting %s only: %v", step, jwtHeader(t, raw), alg, err)
		}
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Fatalf("%s: at_hash: %v", step, err)
		}
		check(idt, tok)
	}
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
	var meta struct {
		IDAlgs []string `json:"id_token_signing_alg_values_supported"`
	}
	want(t, s.Do(http.MethodGet, "/.well-known/openid-configuration", "", nil), http.StatusOK).JSON(t, &meta)
	if !slices.Equal(meta.IDAlgs, []string{"RS256", "ES256"}) {
		t.Fatalf("id_token_signing_alg_values_supported = %q, want [RS256 ES256]", meta.IDAlgs)
	}
	var set struct{ Keys []struct{ Alg string } }
	want(t, s.Do(http.MethodGet, "/.well-known/jwks.json", "", nil), http.StatusOK).JSON(t, &set)
	algs := map[string]int{}
	for _, k := range set.Keys {
		algs[k.Alg]++
	}
	if algs["RS256"] == 0 || algs["ES256"] == 0 {
		t.Fatalf("the JWKS holds %v keys by algorithm, want RS256 and ES256 keys", algs)
	}
	checkIDTokens(t, s, rp, "ada@example.com", oidc.RS256, func(idt *oidc.IDToken, tok *oauth2.Token) {
		if idt.Subject != userID {
			t.Fatalf("ID token sub %q", idt.Subject)
		}
		if h := jwtHeader(t, tok.AccessToken); h["alg"] != "ES256" {
			t.Fatalf("access token header %v, want ES256", h)
		}
	})
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
	checkIDTokens(t, s, rp, "ada@example.com", oidc.ES256, func(*oidc.IDToken, *oauth2.Token) {})
}
