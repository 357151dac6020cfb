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

// TestIdPStandardScopes: "openid profile email", what most relying
// parties ask for by default, is a request the server grants (OIDC Core
// §5.4's standard scopes; it was invalid_scope, neither scope being in
// the catalog): the consent page describes them, the person's access
// token carries them, the ID token has the name and e-mail address, and
// discovery lists them. Their names are the server's: the catalog
// refuses a scope so named, and a client's own token never holds one.
func TestIdPStandardScopes(t *testing.T) {
	s := servertest.New(t)
	rp := newCodeApp(t, s, "Standard scopes", "http://127.0.0.1:9/cb", "client_secret_basic")
	rp.cfg.Scopes = []string{oidc.ScopeOpenID, "profile", "email", "cases:read"}
	newUser(t, s, "grace@example.com")
	ctx := oidc.ClientContext(t.Context(), http.DefaultClient)
	provider, err := oidc.NewProvider(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Scopes []string `json:"scopes_supported"`
	}
	if err := provider.Claims(&meta); err != nil || !slices.Contains(meta.Scopes, "profile") || !slices.Contains(meta.Scopes, "email") {
		t.Fatalf("discovery scopes_supported %v %v; want profile and email", meta.Scopes, err)
	}

	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	res, _ := b.get(rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)))
	if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, "/login") {
		t.Fatalf("authorize: %d %q; want the login page", res.StatusCode, loc)
	}
	q := b.signIn(s, rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)), "grace@example.com", true)
	if q.Get("error") != "" || q.Get("code") == "" {
		t.Fatalf("callback %v", q)
	}
	tok, err := rp.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	granted := strings.Fields(tok.Extra("scope").(string))
	for _, sc := range []string{"openid", "profile", "email", "cases:read"} {
		if !slices.Contains(granted, sc) {
			t.Errorf("granted %v; want %s", granted, sc)
		}
	}
	if got := strings.Fields(jwtClaims(t, tok.AccessToken)["scope"].(string)); !slices.Contains(got, "email") || !slices.Contains(got, "profile") {
		t.Errorf("the access token's scope %v; want profile and email", got)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: rp.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Email string `json:"email"`
		Name  string `json:"name"`
	}
	if err := idt.Claims(&claims); err != nil || claims.Email != "grace@example.com" || claims.Name == "" {
		t.Fatalf("ID token claims %+v %v", claims, err)
	}

	// The consent page of a new app describes both.
	other := newCodeApp(t, s, "Standard scopes 2", "http://127.0.0.1:9/cb", "client_secret_basic")
	other.cfg.Scopes = []string{oidc.ScopeOpenID, "profile", "email"}
	res, _ = b.get(other.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)))
	_, page := b.follow(s.URL, res)
	if !strings.Contains(page, "Know your e-mail address.") || !strings.Contains(page, "Know your name.") {
		t.Errorf("consent page without the scopes' descriptions: %s", page)
	}

	admin := s.Token()
	for _, name := range []string{"profile", "email", "openid", "offline_access"} {
		r := s.Do(http.MethodPost, "/v1/platform/scopes", admin, map[string]any{"name": name, "description": "mine"})
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "OpenID Connect scope") {
			t.Errorf("a catalog scope named %s: %d %s; want 400", name, r.Status, r.Body)
		}
	}
	r := s.Form("/v1/oauth/token", rp.ClientID, rp.ClientSecret, map[string][]string{"grant_type": {"client_credentials"}, "scope": {"email"}})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "invalid_scope") {
		t.Errorf("a client's own token with email: %d %s; want invalid_scope", r.Status, r.Body)
	}
}
