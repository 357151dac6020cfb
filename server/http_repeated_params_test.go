package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// oauthErrorOf is the RFC 6749 §5.2 error code of r, after its status.
func oauthErrorOf(t *testing.T, r servertest.Response, status int) string {
	t.Helper()
	want(t, r, status)
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("not an OAuth error document: %s", r.Body)
	}
	return e.Error
}

// signedIn is a code-flow app with callback, the user ada@example.com
// signed in through a browser (kept, with its session and consent), the
// PKCE verifier and the callback's query (state-0123456789, a code).
func signedIn(t *testing.T, s *servertest.Server, callback string) (codeApp, *browser, string, url.Values) {
	t.Helper()
	rp := newCodeApp(t, s, "Portal", callback, "client_secret_basic")
	newUser(t, s, "ada@example.com")
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	q := b.signIn(s, rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)), "ada@example.com", true)
	return rp, b, verifier, q
}

// TestRepeatedParamsRefused: a parameter given twice (RFC 6749 §3.1,
// §3.2: "MUST NOT be included more than once") is invalid_request at the
// token, introspection, revocation and PAR endpoints, and at the
// authorization endpoint: at the redirect URI, or on the error page when
// the repeated parameter is client_id or redirect_uri. A malformed S256
// code_challenge (RFC 7636 §4.2: 43 base64url characters) is refused
// too, at both. A refused token request spends nothing: the code still
// redeems.
func TestRepeatedParamsRefused(t *testing.T) {
	s := servertest.New(t)
	rp, b, verifier, q := signedIn(t, s, "http://127.0.0.1:9/callback")
	authURL := rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier))

	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {rp.cfg.RedirectURL},
		"code_verifier": {verifier, verifier}}
	if e := oauthErrorOf(t, s.Form("/v1/oauth/token", rp.ClientID, rp.ClientSecret, form), http.StatusBadRequest); e != "invalid_request" {
		t.Fatalf("token with code_verifier twice: %s, want invalid_request", e)
	}
	form["code_verifier"] = []string{verifier}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	want(t, s.Form("/v1/oauth/token", rp.ClientID, rp.ClientSecret, form), http.StatusOK).JSON(t, &tok)
	for _, path := range []string{"/v1/oauth/introspect", "/v1/oauth/revoke"} {
		two := url.Values{"token": {tok.AccessToken, "other"}}
		if e := oauthErrorOf(t, s.Form(path, s.AdminID, s.AdminSecret, two), http.StatusBadRequest); e != "invalid_request" {
			t.Fatalf("%s with token twice: %s, want invalid_request", path, e)
		}
	}
	if r, a := pushAuth(t, s, rp, verifier, url.Values{"scope": {"openid", "cases:read"}}); r.Status != http.StatusBadRequest || a.Error != "invalid_request" {
		t.Fatalf("PAR with scope twice: %d %s", r.Status, r.Body)
	}
	if r, a := pushAuth(t, s, rp, verifier, url.Values{"code_challenge": {"abc"}}); r.Status != http.StatusBadRequest || a.Error != "invalid_request" {
		t.Fatalf("PAR with a short code_challenge: %d %s", r.Status, r.Body)
	} else {
		wantDescriptionChars(t, a.ErrorDescription) // it cites RFC 7636
	}

	// The browser has a session and a consent: a good request would
	// redirect with a code at once.
	for _, extra := range []string{"&state=state-other-value", "&scope=openid", "&code_challenge=abc"} {
		u := authURL + extra
		if extra == "&code_challenge=abc" {
			u = rp.cfg.AuthCodeURL("state-0123456789", oauth2.SetAuthURLParam("code_challenge", "abc"), oauth2.SetAuthURLParam("code_challenge_method", "S256"))
		}
		res, body := b.get(u)
		cb := callbackQuery(t, res, body)
		if cb.Get("error") != "invalid_request" || cb.Get("code") != "" {
			t.Fatalf("authorize %s: callback %v, want error invalid_request", extra, cb)
		}
		wantDescriptionChars(t, cb.Get("error_description")) // RFC 6749 §4.1.2.1: the set of §5.2
	}
	for _, extra := range []string{"&redirect_uri=" + url.QueryEscape("http://127.0.0.1:9/other"), "&client_id=cl_other"} {
		res, _ := b.get(authURL + extra)
		if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
			t.Fatalf("authorize %s: %d to %q, want the error page", extra, res.StatusCode, res.Header.Get("Location"))
		}
	}
}

// TestRefreshScopeWidening: a refresh asking for a scope its grant does
// not hold is invalid_scope (RFC 6749 §6), and spends nothing: the same
// refresh token then refreshes, with a scope it holds or none.
func TestRefreshScopeWidening(t *testing.T) {
	s := servertest.New(t)
	rp, _, verifier, q := signedIn(t, s, "http://127.0.0.1:9/callback")
	tok, err := rp.cfg.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("Exchange: %v %+v", err, tok)
	}
	refresh := func(scope string) servertest.Response {
		return s.Form("/v1/oauth/token", rp.ClientID, rp.ClientSecret, url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {tok.RefreshToken}, "scope": {scope}})
	}
	if e := oauthErrorOf(t, refresh("openid offline_access cases:read platform:apps:read"), http.StatusBadRequest); e != "invalid_scope" {
		t.Fatalf("widening refresh: %s, want invalid_scope", e)
	}
	var next struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		Scope        string `json:"scope"`
	}
	want(t, refresh("openid"), http.StatusOK).JSON(t, &next)
	if next.RefreshToken == "" {
		t.Fatalf("refresh after the refused one: %+v", next)
	}
	// A narrower scope narrows the access token and the answer (RFC 6749
	// §6), not the refresh token: the next rotation without a scope has
	// the grant's scopes again.
	if next.Scope != "openid" || next.AccessToken == "" || scopeClaim(t, next.AccessToken) != "openid" {
		t.Fatalf("narrowed refresh: scope %q, access token scope %q", next.Scope, scopeClaim(t, next.AccessToken))
	}
	var full struct {
		AccessToken string `json:"access_token"`
		Scope       string `json:"scope"`
		IDToken     string `json:"id_token"`
	}
	want(t, s.Form("/v1/oauth/token", rp.ClientID, rp.ClientSecret, url.Values{"grant_type": {"refresh_token"},
		"refresh_token": {next.RefreshToken}}), http.StatusOK).JSON(t, &full)
	granted := strings.Fields(tok.Extra("scope").(string))
	if got := strings.Fields(full.Scope); !sameSet(got, granted) || !sameSet(strings.Fields(scopeClaim(t, full.AccessToken)), granted) {
		t.Fatalf("refresh after a narrowed one: scope %q, access token %q, want the grant's %q", full.Scope, scopeClaim(t, full.AccessToken), granted)
	}
	if full.IDToken == "" {
		t.Fatalf("refresh after a narrowed one: no ID token")
	}
}

// scopeClaim is the scope claim of a JWT access token (jwtClaims: read,
// not verified; the token came from the server under test).
func scopeClaim(t *testing.T, jwt string) string {
	t.Helper()
	scope, _ := jwtClaims(t, jwt)["scope"].(string)
	return scope
}

func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}
