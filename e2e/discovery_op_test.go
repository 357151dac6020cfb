package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestDiscoveryBasicOP checks /.well-known/openid-configuration against
// what the OpenID Foundation's certification expects of a Basic OP (OpenID
// Connect Discovery 1.0 §3 and the Basic profile's discovery checks):
// issuer (https or loopback http, no query or fragment, equal to the ID
// token's iss), the endpoints under it, response_types_supported with
// code, subject_types_supported of public/pairwise,
// id_token_signing_alg_values_supported without none and naming the alg
// of the keys the JWKS publishes and of a real ID token,
// claims_supported with sub and every claim of a real ID token,
// scopes_supported with openid, grant_types_supported with
// authorization_code; and every *_endpoint and *_uri it advertises
// answers (GET or POST: neither a 404, a 405 nor a 5xx). Discovery §3:
// RS256 "MUST be included" in id_token_signing_alg_values_supported; it
// is the default (OIDC Registration §2), so a real ID token is RS256.
func TestDiscoveryBasicOP(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	r := a.call(http.MethodGet, "/.well-known/openid-configuration", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("openid-configuration: %s", r)
	}
	var doc map[string]any
	r.decode(t, &doc)
	str := func(k string) string {
		v, _ := doc[k].(string)
		if v == "" {
			t.Errorf("%s: missing or not a string (required by the Basic OP profile)", k)
		}
		return v
	}
	list := func(k string) []string {
		raw, ok := doc[k].([]any)
		if !ok || len(raw) == 0 {
			t.Errorf("%s: missing or empty (required by the Basic OP profile)", k)
		}
		var out []string
		for _, v := range raw {
			sv, ok := v.(string)
			if !ok {
				t.Errorf("%s: %v is not a string", k, v)
			}
			out = append(out, sv)
		}
		return out
	}
	iss := str("issuer")
	if u, err := url.Parse(iss); err != nil || u.RawQuery != "" || u.Fragment != "" || iss != s.URL ||
		!(u.Scheme == "https" || u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost") {
		t.Errorf("issuer %q: want exactly %q, https (or loopback http), no query or fragment", iss, s.URL)
	}
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"} {
		if v := str(k); !strings.HasPrefix(v, iss+"/") {
			t.Errorf("%s %q is not under the issuer", k, v)
		}
	}
	if rt := list("response_types_supported"); !slices.Contains(rt, "code") {
		t.Errorf("response_types_supported %v: a Basic OP supports code", rt)
	}
	for _, st := range list("subject_types_supported") {
		if st != "public" && st != "pairwise" {
			t.Errorf("subject_types_supported: %q is neither public nor pairwise", st)
		}
	}
	algs := list("id_token_signing_alg_values_supported")
	if slices.Contains(algs, "none") || !slices.Contains(algs, "RS256") {
		t.Errorf("id_token_signing_alg_values_supported %v offers none or lacks RS256", algs)
	}
	if sc := list("scopes_supported"); !slices.Contains(sc, "openid") {
		t.Errorf("scopes_supported %v lacks openid", sc)
	}
	claims := list("claims_supported")
	for _, c := range []string{"sub", "iss", "aud", "exp", "iat"} {
		if !slices.Contains(claims, c) {
			t.Errorf("claims_supported %v lacks %s", claims, c)
		}
	}
	if gt := list("grant_types_supported"); !slices.Contains(gt, "authorization_code") {
		t.Errorf("grant_types_supported %v lacks authorization_code", gt)
	}
	if m := list("token_endpoint_auth_methods_supported"); !slices.Contains(m, "client_secret_basic") {
		t.Errorf("token_endpoint_auth_methods_supported %v lacks client_secret_basic (the default)", m)
	}
	if rm, ok := doc["response_modes_supported"]; ok && !slices.Contains(list("response_modes_supported"), "query") {
		t.Errorf("response_modes_supported %v lacks query, the code flow's", rm)
	}

	// The keys the JWKS publishes are signing keys of an advertised alg.
	jr := a.call(http.MethodGet, strings.TrimPrefix(doc["jwks_uri"].(string), s.URL), nil)
	var set struct {
		Keys []struct {
			Kid, Alg, Use string
		} `json:"keys"`
	}
	jr.decode(t, &set)
	if jr.Status != http.StatusOK || len(set.Keys) == 0 {
		t.Fatalf("jwks_uri: %s", jr)
	}
	for _, k := range set.Keys {
		if k.Kid == "" || (k.Use != "" && k.Use != "sig") || !slices.Contains(algs, k.Alg) {
			t.Errorf("JWKS key %+v: want a kid, use sig and an alg of %v", k, algs)
		}
	}

	// A real ID token: its alg advertised, its iss the issuer, each of
	// its claims in claims_supported.
	app := createCodeApp(t, a, codeFlowCallback)
	tok := signedIn(t, a, newPerson(t, a), app, "state-discovery")
	idt, _ := tok.Extra("id_token").(string)
	parts := strings.Split(idt, ".")
	if len(parts) != 3 {
		t.Fatalf("no ID token: %q", idt)
	}
	var head struct{ Alg string }
	var body map[string]any
	for i, v := range []any{&head, &body} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, v) != nil {
			t.Fatalf("ID token part %d: %v", i, err)
		}
	}
	if !slices.Contains(algs, head.Alg) || head.Alg != "RS256" {
		t.Errorf("the ID token's alg %s is not RS256, the default, or not in id_token_signing_alg_values_supported %v", head.Alg, algs)
	}
	if body["iss"] != iss {
		t.Errorf("the ID token's iss %v is not the issuer %s", body["iss"], iss)
	}
	for c := range body {
		if !slices.Contains(claims, c) {
			t.Errorf("the ID token carries %s, which claims_supported %v does not list", c, claims)
		}
	}

	// Every advertised endpoint answers.
	var endpoints []string
	for k, v := range doc {
		if u, ok := v.(string); ok && (strings.HasSuffix(k, "_endpoint") || strings.HasSuffix(k, "_uri")) {
			endpoints = append(endpoints, k)
			if !strings.HasPrefix(u, iss+"/") {
				t.Errorf("%s %q is not under the issuer", k, u)
			}
		}
	}
	slices.Sort(endpoints)
	if len(endpoints) < 8 {
		t.Errorf("advertised endpoints %v: fewer than the eight Gatehouse serves", endpoints)
	}
	bad := func(st int) bool {
		return st == http.StatusNotFound || st == http.StatusMethodNotAllowed || st >= 500
	}
	for _, k := range endpoints {
		path := strings.TrimPrefix(doc[k].(string), s.URL)
		get := a.call(http.MethodGet, path, nil)
		if !bad(get.Status) {
			continue
		}
		if post := a.form(path, url.Values{}, "", ""); bad(post.Status) {
			t.Errorf("%s %s: GET %d, POST %d: it does not answer", k, path, get.Status, post.Status)
		}
	}
}
