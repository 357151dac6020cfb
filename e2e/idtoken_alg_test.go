package e2e

import (
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
)

// TestIDTokenForRS256OnlyRelyingParty: a relying party configured as
// Spring Security's OidcIdTokenDecoderFactory and Node's openid-client
// are by default, accepting RS256 ID tokens only (OIDC Registration 1.0
// §2: the default id_token_signed_response_alg), completes the code flow
// and the refresh with go-oidc against the binary: discovery, the JWKS
// and the ID tokens' signature, iss, aud, nonce-free at_hash.
func TestIDTokenForRS256OnlyRelyingParty(t *testing.T) {
	t.Parallel()
	a := adminAPI(t, shared(t))
	app := createCodeApp(t, a, codeFlowCallback)
	c := oidc.ClientContext(ctx(t), a.hc)
	provider, err := oidc.NewProvider(c, a.s.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	rp := provider.Verifier(&oidc.Config{ClientID: app.ClientID, SupportedSigningAlgs: []string{oidc.RS256}})
	tok := signedIn(t, a, newPerson(t, a), app, "state-rs256-only")
	for _, step := range []string{"code exchange", "refresh"} {
		raw, _ := tok.Extra("id_token").(string)
		idt, err := rp.Verify(c, raw)
		if err != nil {
			t.Fatalf("%s: an RS256-only relying party refuses the ID token: %v", step, err)
		}
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			t.Fatalf("%s: at_hash: %v", step, err)
		}
		if tok, err = refresh(a, rpOn(app, a.s.URL), tok.RefreshToken); err != nil {
			t.Fatalf("refresh: %v", err)
		}
	}
}
