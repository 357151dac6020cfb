package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// Pushed authorization requests (RFC 9126): POST /v1/oauth/par, then the
// authorization endpoint with request_uri + client_id.

type parAnswer struct {
	RequestURI       string `json:"request_uri"`
	ExpiresIn        int    `json:"expires_in"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// pushAuth pushes rp's authorization request (PKCE S256 with verifier)
// with extra parameters, authenticating as rp, and returns the answer.
func pushAuth(t *testing.T, s *servertest.Server, rp codeApp, verifier string, extra url.Values) (servertest.Response, parAnswer) {
	t.Helper()
	form := url.Values{"response_type": {"code"}, "redirect_uri": {rp.cfg.RedirectURL}, "scope": {strings.Join(rp.cfg.Scopes, " ")},
		"state": {"state-0123456789"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	for k, v := range extra {
		form[k] = v
	}
	user, pass := rp.ClientID, rp.ClientSecret
	if rp.ClientSecret == "" {
		user, form["client_id"] = "", []string{rp.ClientID}
	}
	r := s.Form("/v1/oauth/par", user, pass, form)
	var a parAnswer
	if len(r.Body) > 0 {
		if err := json.Unmarshal(r.Body, &a); err != nil {
			t.Fatalf("PAR answer %d is not JSON: %s", r.Status, r.Body)
		}
	}
	return r, a
}

func parAuthURL(s *servertest.Server, clientID, requestURI string) string {
	return s.URL + "/v1/oauth/authorize?" + url.Values{"client_id": {clientID}, "request_uri": {requestURI}}.Encode()
}

func TestPARCodeFlow(t *testing.T) {
	s := servertest.New(t)
	rp := newCodeApp(t, s, "Case portal", "https://portal.example.com/cb", "client_secret_basic")
	other := newCodeApp(t, s, "Other portal", "https://other.example.com/cb", "client_secret_basic")
	userID := newUser(t, s, "ada@example.com")
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()

	r, a := pushAuth(t, s, rp, verifier, url.Values{"nonce": {"n-0S6_WzA2Mj"}, "prompt": {"login consent"}})
	if r.Status != http.StatusCreated || !strings.HasPrefix(a.RequestURI, "urn:ietf:params:oauth:request_uri:") ||
		a.ExpiresIn <= 0 || a.ExpiresIn > 60 || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("PAR: %d %q %s", r.Status, r.Header.Get("Cache-Control"), r.Body)
	}
	// Another client's client_id with this request_uri: the error page,
	// no redirect; the request_uri stays usable by its client.
	res, body := b.get(parAuthURL(s, other.ClientID, a.RequestURI))
	if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" || !strings.Contains(body, "invalid_request_uri") {
		t.Fatalf("other client: %d %q %s", res.StatusCode, res.Header.Get("Location"), body)
	}
	// The round trip through login and consent (prompt=login consent
	// pushed: both pages are shown once each) does not use it up.
	q := b.signIn(s, parAuthURL(s, rp.ClientID, a.RequestURI), "ada@example.com", true)
	if q.Get("state") != "state-0123456789" || q.Get("code") == "" {
		t.Fatalf("callback %v", q)
	}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, http.DefaultClient)
	tok, err := rp.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	if c := jwtClaims(t, tok.AccessToken); c["sub"] != userID || c["client_id"] != rp.ClientID {
		t.Fatalf("claims %v", c)
	}
	idt, _ := tok.Extra("id_token").(string)
	if idt == "" || jwtClaims(t, idt)["nonce"] != "n-0S6_WzA2Mj" {
		t.Fatalf("id_token %q: the pushed nonce is not in it", idt)
	}
	// Single use: the code was issued, the request_uri is spent.
	res, body = b.get(parAuthURL(s, rp.ClientID, a.RequestURI))
	if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" || !strings.Contains(body, "invalid_request_uri") {
		t.Fatalf("reused request_uri: %d %q %s", res.StatusCode, res.Header.Get("Location"), body)
	}
	// An unknown one, and one that is not ours to resolve.
	for _, uri := range []string{"urn:ietf:params:oauth:request_uri:bm90LWlzc3VlZA", "https://evil.example.com/request.jwt"} {
		if res, _ := b.get(parAuthURL(s, rp.ClientID, uri)); res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
			t.Fatalf("request_uri %s: %d %q", uri, res.StatusCode, res.Header.Get("Location"))
		}
	}
	// With a session and a remembered consent the pushed request answers
	// at once; the code is exchanged once.
	verifier = oauth2.GenerateVerifier()
	_, a = pushAuth(t, s, rp, verifier, nil)
	res, _ = b.get(parAuthURL(s, rp.ClientID, a.RequestURI))
	q = callbackQuery(t, res, "")
	if _, err := rp.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("Exchange: %v", err)
	}
}

func TestPARRefused(t *testing.T) {
	s := servertest.New(t)
	rp := newCodeApp(t, s, "Case portal", "https://portal.example.com/cb", "client_secret_basic")
	cli := newCodeApp(t, s, "CLI", "http://127.0.0.1/callback", "none")
	verifier := oauth2.GenerateVerifier()
	oauthErr := func(r servertest.Response, a parAnswer, status int, code string) {
		t.Helper()
		if r.Status != status || a.Error != code || a.RequestURI != "" || r.Header.Get("Cache-Control") != "no-store" ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("got %d %q %s, want %d %s", r.Status, r.Header.Get("Content-Type"), r.Body, status, code)
		}
	}
	// No client authentication, a wrong secret: 401 invalid_client.
	r := s.Form("/v1/oauth/par", "", "", map[string][]string{"response_type": {"code"}, "redirect_uri": {rp.cfg.RedirectURL}})
	var a parAnswer
	_ = json.Unmarshal(r.Body, &a)
	oauthErr(r, a, http.StatusUnauthorized, "invalid_client")
	wrong := rp
	wrong.ClientSecret = "not-the-secret-0123456789"
	r, a = pushAuth(t, s, wrong, verifier, nil)
	oauthErr(r, a, http.StatusUnauthorized, "invalid_client")
	// A redirect URI that is not registered.
	r, a = pushAuth(t, s, rp, verifier, url.Values{"redirect_uri": {"https://evil.example.com/cb"}})
	oauthErr(r, a, http.StatusBadRequest, "invalid_request")
	// A public client without PKCE, and plain PKCE.
	r, a = pushAuth(t, s, cli, verifier, url.Values{"code_challenge": nil, "code_challenge_method": nil})
	oauthErr(r, a, http.StatusBadRequest, "invalid_request")
	r, a = pushAuth(t, s, cli, verifier, url.Values{"code_challenge_method": {"plain"}})
	oauthErr(r, a, http.StatusBadRequest, "invalid_request")
	// A request_uri inside a pushed request.
	r, a = pushAuth(t, s, rp, verifier, url.Values{"request_uri": {"urn:ietf:params:oauth:request_uri:abc"}})
	oauthErr(r, a, http.StatusBadRequest, "invalid_request")
	// A body over the OAuth endpoints' limit: 413.
	if r := s.Form("/v1/oauth/par", rp.ClientID, rp.ClientSecret, map[string][]string{"state": {strings.Repeat("x", 2<<20)}}); r.Status != http.StatusRequestEntityTooLarge {
		t.Fatalf("large body: %d %s", r.Status, r.Body)
	}
	// The public client with PKCE is accepted.
	if r, a = pushAuth(t, s, cli, verifier, nil); r.Status != http.StatusCreated || a.RequestURI == "" {
		t.Fatalf("public client with PKCE: %d %s", r.Status, r.Body)
	}
	// Discovery advertises the endpoint, not required.
	var m map[string]any
	want(t, s.Do(http.MethodGet, "/.well-known/openid-configuration", "", nil), http.StatusOK).JSON(t, &m)
	if m["pushed_authorization_request_endpoint"] != s.URL+"/v1/oauth/par" || m["require_pushed_authorization_requests"] != false {
		t.Fatalf("discovery: %v %v", m["pushed_authorization_request_endpoint"], m["require_pushed_authorization_requests"])
	}
}

func TestPARExpires(t *testing.T) {
	s := servertest.New(t, servertest.Env("PAR_TTL", "2s"))
	rp := newCodeApp(t, s, "Case portal", "https://portal.example.com/cb", "client_secret_basic")
	b := newBrowser(t)
	pushed := time.Now()
	r, a := pushAuth(t, s, rp, oauth2.GenerateVerifier(), nil)
	if r.Status != http.StatusCreated || a.ExpiresIn != 2 {
		t.Fatalf("PAR: %d %s", r.Status, r.Body)
	}
	// Usable at first (to the login page), refused once expired.
	res, _ := b.get(parAuthURL(s, rp.ClientID, a.RequestURI))
	if fresh := time.Since(pushed) < 2*time.Second; fresh &&
		(res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login")) {
		t.Fatalf("fresh request_uri: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, body := b.get(parAuthURL(s, rp.ClientID, a.RequestURI))
		if res.StatusCode == http.StatusBadRequest && strings.Contains(body, "invalid_request_uri") && res.Header.Get("Location") == "" {
			break
		}
		if res.StatusCode != http.StatusSeeOther || time.Now().After(deadline) {
			t.Fatalf("expired request_uri: %d %q", res.StatusCode, res.Header.Get("Location"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
