package server_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/server/servertest"
)

// Conformance of the introspection and revocation endpoints as an outside
// client sees them (RFC 7662, RFC 7009), beyond http_oauth_test.go.

// TestIntrospectionRefusesPublicClients: RFC 7662 §2.1 and §4 make the
// caller of introspection authenticate; a public client's client_id is no
// credential (it is in every authorization URL, and the console's,
// gatehouse-console.<tenant>, is known to all), so naming one is
// invalid_client (401) and tells nothing about the token. A confidential
// client of the same tenant still introspects it.
func TestIntrospectionRefusesPublicClients(t *testing.T) {
	s := servertest.New(t)
	rp, _, _, tok := exchanged(t, s, "http://127.0.0.1:9/cb")
	cli := newCodeApp(t, s, "CLI", "http://127.0.0.1/callback", "none")
	for _, id := range []string{cli.ClientID, oauth.ConsoleClientID("default")} {
		r := s.Form("/v1/oauth/introspect", "", "", map[string][]string{"client_id": {id}, "token": {tok.AccessToken}})
		var body struct {
			Error  string `json:"error"`
			Active *bool  `json:"active"`
		}
		r.JSON(t, &body)
		if r.Status != http.StatusUnauthorized || body.Error != "invalid_client" || body.Active != nil {
			t.Errorf("introspection as the public client %s: %d %s, want 401 invalid_client", id, r.Status, r.Body)
		}
	}
	var intro struct {
		Active bool `json:"active"`
	}
	want(t, s.Form("/v1/oauth/introspect", rp.ClientID, rp.ClientSecret, map[string][]string{"token": {tok.AccessToken}}), http.StatusOK).JSON(t, &intro)
	if !intro.Active {
		t.Fatal("a confidential client's introspection: inactive")
	}
}

// TestRevokeRefreshToken: RFC 7009 §2 ("implementations MUST support the
// revocation of refresh tokens"): a client revoking its refresh token
// ends it (a refresh with it is invalid_grant) and, §2.1, the access
// tokens of the same grant. Another client's refresh token is refused
// (unauthorized_client) and stays alive; a public client revokes its own
// with its client_id, as it authenticates at the token endpoint.
func TestRevokeRefreshToken(t *testing.T) {
	s := servertest.New(t)
	rp, _, _, tok := exchanged(t, s, "http://127.0.0.1:9/cb")
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, http.DefaultClient)
	other := newCodeApp(t, s, "Other", "http://127.0.0.1:9/other", "client_secret_basic")
	r := s.Form("/v1/oauth/revoke", other.ClientID, other.ClientSecret, map[string][]string{"token": {tok.RefreshToken}})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "unauthorized_client") {
		t.Fatalf("another client's refresh token: %d %s, want 400 unauthorized_client", r.Status, r.Body)
	}
	want(t, s.Form("/v1/oauth/revoke", rp.ClientID, rp.ClientSecret, map[string][]string{"token": {tok.RefreshToken},
		"token_type_hint": {"refresh_token"}}), http.StatusOK)
	stale := &oauth2.Token{RefreshToken: tok.RefreshToken}
	if _, err := rp.cfg.TokenSource(ctx, stale).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("refresh with a revoked refresh token: %v, want invalid_grant", err)
	}
	var intro struct {
		Active bool `json:"active"`
	}
	want(t, s.Form("/v1/oauth/introspect", rp.ClientID, rp.ClientSecret, map[string][]string{"token": {tok.AccessToken}}), http.StatusOK).JSON(t, &intro)
	if intro.Active {
		t.Fatal("the revoked grant's access token is still active")
	}

	// A public client: client_id alone, as at its token endpoint; the
	// discovery document says so (and not for introspection).
	var meta struct {
		Revocation    []string `json:"revocation_endpoint_auth_methods_supported"`
		Introspection []string `json:"introspection_endpoint_auth_methods_supported"`
	}
	want(t, s.Do(http.MethodGet, "/.well-known/openid-configuration", "", nil), http.StatusOK).JSON(t, &meta)
	if !slices.Contains(meta.Revocation, "none") || slices.Contains(meta.Introspection, "none") {
		t.Errorf("discovery: revocation methods %v, introspection methods %v; want none at revocation only", meta.Revocation, meta.Introspection)
	}
	cli := newCodeApp(t, s, "CLI", "http://127.0.0.1/callback", "none")
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	q := b.signIn(s, cli.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)), "ada@example.com", true)
	ptok, err := cli.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	want(t, s.Form("/v1/oauth/revoke", "", "", map[string][]string{"client_id": {cli.ClientID}, "token": {ptok.RefreshToken}}), http.StatusOK)
	if _, err := cli.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: ptok.RefreshToken}).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("refresh with a public client's revoked refresh token: %v, want invalid_grant", err)
	}
	// An unknown or garbled refresh token is 200 (§2.2).
	want(t, s.Form("/v1/oauth/revoke", rp.ClientID, rp.ClientSecret, map[string][]string{"token": {"ory_rt_nope.nope"}}), http.StatusOK)
}

// TestIntrospectionScopeOfAPersonsToken: RFC 7662 §2.2's scope is "the
// scopes associated with this token": for a person's token, the OpenID
// Connect scopes it was issued with (openid, offline_access: not catalog
// scopes, never withdrawn by a scope decision) are among them, as in the
// token response and the token's scope claim.
func TestIntrospectionScopeOfAPersonsToken(t *testing.T) {
	s := servertest.New(t)
	rp, _, _, tok := exchanged(t, s, "http://127.0.0.1:9/cb")
	var intro struct {
		Active bool   `json:"active"`
		Scope  string `json:"scope"`
	}
	want(t, s.Form("/v1/oauth/introspect", rp.ClientID, rp.ClientSecret, map[string][]string{"token": {tok.AccessToken}}), http.StatusOK).JSON(t, &intro)
	if issued := tok.Extra("scope"); !intro.Active || intro.Scope != issued || intro.Scope != jwtClaims(t, tok.AccessToken)["scope"] {
		t.Fatalf("introspection scope %q (active %v), want the issued %q", intro.Scope, intro.Active, issued)
	}
}

// TestIntrospectRefreshToken: RFC 7662 §2.1 names refresh tokens among
// what a client may introspect. A client's live refresh token is active
// to it, described as the refresh grant would take it now (its scopes,
// user, tenant, when it was issued) and marked token_use refresh_token,
// with no token_type (RFC 7662's is an access token's type). It is
// inactive to another client, once rotated (the new one is active), once
// revoked, and once its user is disabled.
func TestIntrospectRefreshToken(t *testing.T) {
	s := servertest.New(t)
	rp, _, _, tok := exchanged(t, s, "http://127.0.0.1:9/cb")
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, http.DefaultClient)
	type answer struct {
		Active    bool     `json:"active"`
		Scope     string   `json:"scope"`
		ClientID  string   `json:"client_id"`
		Subject   string   `json:"sub"`
		Username  string   `json:"username"`
		Audience  []string `json:"aud"`
		Issuer    string   `json:"iss"`
		IssuedAt  int64    `json:"iat"`
		ExpiresAt *int64   `json:"exp"`
		Tenant    string   `json:"tid"`
		TokenUse  string   `json:"token_use"`
		TokenType *string  `json:"token_type"`
	}
	introspect := func(clientID, secret, token string) answer {
		t.Helper()
		var a answer
		want(t, s.Form("/v1/oauth/introspect", clientID, secret, map[string][]string{"token": {token}, "token_type_hint": {"refresh_token"}}), http.StatusOK).JSON(t, &a)
		return a
	}
	at := jwtClaims(t, tok.AccessToken)
	a := introspect(rp.ClientID, rp.ClientSecret, tok.RefreshToken)
	if !a.Active || a.TokenUse != "refresh_token" || a.TokenType != nil || a.ClientID != rp.ClientID || a.Subject != at["sub"] ||
		a.Scope != tok.Extra("scope") || a.Username != "ada@example.com" || a.Tenant != at["tid"] || a.Issuer != at["iss"] ||
		!slices.Equal(a.Audience, []string{rp.ClientID}) || a.IssuedAt == 0 {
		t.Fatalf("a live refresh token: %+v", a)
	}
	other := newCodeApp(t, s, "Other", "http://127.0.0.1:9/other", "client_secret_basic")
	if a := introspect(other.ClientID, other.ClientSecret, tok.RefreshToken); a.Active {
		t.Fatalf("another client's refresh token is active to it: %+v", a)
	}

	// Rotated: the old token is inactive, the new one active.
	next, err := rp.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if a := introspect(rp.ClientID, rp.ClientSecret, tok.RefreshToken); a.Active {
		t.Fatalf("a used refresh token is active: %+v", a)
	}
	if a := introspect(rp.ClientID, rp.ClientSecret, next.RefreshToken); !a.Active {
		t.Fatalf("the rotated refresh token is inactive: %+v", a)
	}

	// Its user disabled: inactive (a refresh would be invalid_grant).
	want(t, s.Do(http.MethodPatch, "/v1/platform/users/"+at["sub"].(string), s.Token(), map[string]any{"disabled": true}), http.StatusOK)
	if a := introspect(rp.ClientID, rp.ClientSecret, next.RefreshToken); a.Active {
		t.Fatalf("the refresh token of a disabled user is active: %+v", a)
	}
}

// TestIntrospectRevokedRefreshToken: a refresh token revoked at the
// revocation endpoint is inactive at introspection.
func TestIntrospectRevokedRefreshToken(t *testing.T) {
	s := servertest.New(t)
	rp, _, _, tok := exchanged(t, s, "http://127.0.0.1:9/cb")
	var a struct {
		Active bool `json:"active"`
	}
	want(t, s.Form("/v1/oauth/introspect", rp.ClientID, rp.ClientSecret, map[string][]string{"token": {tok.RefreshToken}}), http.StatusOK).JSON(t, &a)
	if !a.Active {
		t.Fatal("a live refresh token is inactive")
	}
	want(t, s.Form("/v1/oauth/revoke", rp.ClientID, rp.ClientSecret, map[string][]string{"token": {tok.RefreshToken}}), http.StatusOK)
	want(t, s.Form("/v1/oauth/introspect", rp.ClientID, rp.ClientSecret, map[string][]string{"token": {tok.RefreshToken}}), http.StatusOK).JSON(t, &a)
	if a.Active {
		t.Fatal("a revoked refresh token is active")
	}
}

// TestIntrospectionBearerCaller: API.md has the caller of introspection
// authenticate as an app. A bearer token does so only when it is the
// app's own token (sub is its client_id) of a confidential app: a
// person's token is no credential of its app (a signed-in person holding
// it would learn about other tokens of the tenant), and a token of a
// public app proves no more than its client_id. Both are 401
// invalid_client with a challenge and tell nothing of the token; at
// revocation a person's token of a confidential app is refused alike,
// while a public app's, as its client_id, still revokes its own tokens.
func TestIntrospectionBearerCaller(t *testing.T) {
	s := servertest.New(t)
	_, _, _, tok := exchanged(t, s, "http://127.0.0.1:9/cb")
	cli := newCodeApp(t, s, "CLI", "http://127.0.0.1/callback", "none")
	ada, _ := jwtClaims(t, tok.AccessToken)["sub"].(string)
	publicTok := s.UserToken(cli.ClientID, ada, "cases:read")
	appTok := s.Token()
	for name, bearer := range map[string]string{"a person's token of a confidential app": tok.AccessToken, "a person's token of a public app": publicTok} {
		r := s.BearerForm("/v1/oauth/introspect", bearer, url.Values{"token": {appTok}})
		var body struct {
			Error  string `json:"error"`
			Active *bool  `json:"active"`
		}
		r.JSON(t, &body)
		if r.Status != http.StatusUnauthorized || body.Error != "invalid_client" || body.Active != nil || r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("introspection with %s as the caller: %d %v %s, want 401 invalid_client with a challenge", name, r.Status, r.Header, r.Body)
		}
	}
	var intro struct {
		Active   bool   `json:"active"`
		Subject  string `json:"sub"`
		ClientID string `json:"client_id"`
	}
	want(t, s.BearerForm("/v1/oauth/introspect", appTok, url.Values{"token": {tok.AccessToken}}), http.StatusOK).JSON(t, &intro)
	if !intro.Active || intro.Subject != ada {
		t.Fatalf("introspection with an app's own token as the caller: %+v", intro)
	}

	r := s.BearerForm("/v1/oauth/revoke", tok.AccessToken, url.Values{"token": {tok.AccessToken}})
	if r.Status != http.StatusUnauthorized || !strings.Contains(string(r.Body), "invalid_client") {
		t.Errorf("revocation with a person's token of a confidential app as the caller: %d %s, want 401 invalid_client", r.Status, r.Body)
	}
	want(t, s.BearerForm("/v1/oauth/revoke", publicTok, url.Values{"token": {publicTok}}), http.StatusOK)
	want(t, s.Form("/v1/oauth/introspect", s.AdminID, s.AdminSecret, url.Values{"token": {publicTok}}), http.StatusOK).JSON(t, &intro)
	if intro.Active {
		t.Fatal("a public app's token revoked by itself as the caller is still active")
	}
	want(t, s.Form("/v1/oauth/introspect", s.AdminID, s.AdminSecret, url.Values{"token": {tok.AccessToken}}), http.StatusOK).JSON(t, &intro)
	if !intro.Active {
		t.Fatal("a refused revocation revoked the token")
	}
}
