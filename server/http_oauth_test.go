package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestHTTPOAuth: discovery names this issuer's endpoints; a
// client_credentials token (golang.org/x/oauth2) is a JWT signed by a key
// of the JWKS (public members only); introspection reports it active
// with its scope and client until it is revoked; errors are RFC 6749.
func TestHTTPOAuth(t *testing.T) {
	s := servertest.New(t)

	var disc struct {
		Issuer              string   `json:"issuer"`
		TokenEndpoint       string   `json:"token_endpoint"`
		JWKSURI             string   `json:"jwks_uri"`
		IntrospectionEP     string   `json:"introspection_endpoint"`
		RevocationEP        string   `json:"revocation_endpoint"`
		GrantTypesSupported []string `json:"grant_types_supported"`
	}
	want(t, s.Do(http.MethodGet, "/.well-known/oauth-authorization-server", "", nil), http.StatusOK).JSON(t, &disc)
	if disc.Issuer != s.URL || disc.TokenEndpoint != s.URL+"/v1/oauth/token" || disc.JWKSURI != s.URL+"/.well-known/jwks.json" ||
		disc.IntrospectionEP != s.URL+"/v1/oauth/introspect" || disc.RevocationEP != s.URL+"/v1/oauth/revoke" ||
		!slices.Contains(disc.GrantTypesSupported, "client_credentials") {
		t.Fatalf("discovery %+v does not name this server's endpoints", disc)
	}

	cc := clientcredentials.Config{ClientID: s.AdminID, ClientSecret: s.AdminSecret, TokenURL: disc.TokenEndpoint, Scopes: []string{"platform:apps:read"}}
	tok, err := cc.Token(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" || tok.Expiry.Before(time.Now().Add(50*time.Minute)) || tok.Extra("scope") != "platform:apps:read" {
		t.Fatalf("token: type %q expiry %v scope %v", tok.TokenType, tok.Expiry, tok.Extra("scope"))
	}

	r := want(t, s.Do(http.MethodGet, "/.well-known/jwks.json", "", nil), http.StatusOK)
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "public") || !strings.Contains(cc, "max-age=") {
		t.Fatalf("JWKS Cache-Control %q", cc)
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	r.JSON(t, &raw)
	for _, k := range raw.Keys {
		if _, private := k["d"]; private || k["kid"] == nil {
			t.Fatalf("JWKS key %v: a private member, or no kid", k)
		}
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.Body, &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("JWKS: %v, %d keys", err, len(set.Keys))
	}
	jws, err := jose.ParseSignedCompact(tok.AccessToken, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
	if err != nil {
		t.Fatalf("the access token is not a JWS: %v", err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("the token's kid %q is not in the JWKS", jws.Signatures[0].Header.KeyID)
	}
	if _, err := jws.Verify(keys[0]); err != nil {
		t.Fatalf("the token does not verify with the JWKS key: %v", err)
	}

	type introspection struct {
		Active   bool   `json:"active"`
		Scope    string `json:"scope"`
		ClientID string `json:"client_id"`
		Iss      string `json:"iss"`
	}
	var in introspection
	want(t, s.Form("/v1/oauth/introspect", s.AdminID, s.AdminSecret, url.Values{"token": {tok.AccessToken}}), http.StatusOK).JSON(t, &in)
	if !in.Active || in.Scope != "platform:apps:read" || in.ClientID != s.AdminID || in.Iss != s.URL {
		t.Fatalf("introspection %+v", in)
	}
	in = introspection{}
	want(t, s.Form("/v1/oauth/introspect", s.AdminID, s.AdminSecret, url.Values{"token": {"not-a-token"}}), http.StatusOK).JSON(t, &in)
	if in.Active {
		t.Fatal("garbage introspects active")
	}

	want(t, s.Form("/v1/oauth/revoke", s.AdminID, s.AdminSecret, url.Values{"token": {tok.AccessToken}}), http.StatusOK)
	in = introspection{}
	want(t, s.Form("/v1/oauth/introspect", s.AdminID, s.AdminSecret, url.Values{"token": {tok.AccessToken}}), http.StatusOK).JSON(t, &in)
	if in.Active {
		t.Fatal("a revoked token introspects active")
	}
	wantProblem(t, s.Do(http.MethodGet, "/v1/platform/apps", tok.AccessToken, nil), http.StatusUnauthorized, "unauthorized")

	var oerr struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	want(t, s.Form("/v1/oauth/token", s.AdminID, "wrong", url.Values{"grant_type": {"client_credentials"}}), http.StatusUnauthorized).JSON(t, &oerr)
	if oerr.Error != "invalid_client" {
		t.Fatalf("a wrong secret: %+v, want invalid_client", oerr)
	}
	oerr.Error = ""
	want(t, s.Form("/v1/oauth/token", s.AdminID, s.AdminSecret, url.Values{"grant_type": {"password"}}), http.StatusBadRequest).JSON(t, &oerr)
	if oerr.Error != "unsupported_grant_type" {
		t.Fatalf("grant password: %+v", oerr)
	}
}
