package server_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestIdPRefusesMalformedOIDCParams: OpenID Connect Core §3.1.2.1
// defines prompt's values, makes none with another value an error, makes
// max_age a number of seconds and id_token_hint an ID token this server
// issued to the client. Each malformed one is invalid_request at the
// client's registered redirect URI with its state, with a session or
// without (the client and the redirect URI were checked first); with an
// unregistered redirect URI it is the error page, never a redirect. A
// pushed request is refused alike at the PAR endpoint.
// prompt=select_account and the client's own ID token as the hint go on
// to a code.
func TestIdPRefusesMalformedOIDCParams(t *testing.T) {
	s := servertest.New(t)
	rp, b, _, tok := exchanged(t, s, "http://127.0.0.1:9/cb")
	other := newCodeApp(t, s, "Other", "http://127.0.0.1:9/other", "client_secret_basic")
	idTok, _ := tok.Extra("id_token").(string)
	sig := strings.LastIndexByte(idTok, '.') + 5
	tampered := idTok[:sig] + map[bool]string{true: "B", false: "A"}[idTok[sig] == 'A'] + idTok[sig+1:]
	verifier := oauth2.GenerateVerifier()
	pkce := oauth2.S256ChallengeOption(verifier)
	param := oauth2.SetAuthURLParam
	cases := map[string]struct {
		app codeApp
		opt oauth2.AuthCodeOption
	}{
		"an unknown prompt":           {rp, param("prompt", "bogus")},
		"prompt=none and login":       {rp, param("prompt", "none login")},
		"a negative max_age":          {rp, param("max_age", "-1")},
		"a max_age that is no number": {rp, param("max_age", "soon")},
		"a hint that is no JWT":       {rp, param("id_token_hint", "not.a.token")},
		"a hint with a bad signature": {rp, param("id_token_hint", tampered)},
		"a hint of another client":    {other, param("id_token_hint", idTok)},
	}
	for name, c := range cases {
		for session, br := range map[string]*browser{"signed in": b, "no session": newBrowser(t)} {
			res, body := br.get(c.app.cfg.AuthCodeURL("state-0123456789", pkce, c.opt))
			q := callbackQuery(t, res, body)
			if loc := res.Header.Get("Location"); q.Get("error") != "invalid_request" || q.Get("state") != "state-0123456789" ||
				q.Get("code") != "" || !strings.HasPrefix(loc, c.app.cfg.RedirectURL+"?") {
				t.Errorf("%s, %s: %q, want invalid_request at the client with its state", name, session, loc)
			}
		}
		bad := *c.app.cfg
		bad.RedirectURL = "https://evil.example.com/cb"
		if res, _ := b.get(bad.AuthCodeURL("state-0123456789", pkce, c.opt)); res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
			t.Errorf("%s with an unregistered redirect URI: %d %q, want the error page", name, res.StatusCode, res.Header.Get("Location"))
		}
	}
	for _, extra := range []url.Values{{"prompt": {"bogus"}}, {"prompt": {"none consent"}}, {"max_age": {"-5"}}, {"id_token_hint": {tampered}}} {
		r, _ := pushAuth(t, s, rp, verifier, extra)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "invalid_request") {
			t.Errorf("pushed %v: %d %s, want 400 invalid_request", extra, r.Status, r.Body)
		}
	}
	for name, opts := range map[string][]oauth2.AuthCodeOption{
		"prompt=select_account":       {param("prompt", "select_account")},
		"the client's own ID token":   {param("id_token_hint", idTok), param("prompt", "none")},
		"prompt=none with max_age 1h": {param("prompt", "none"), param("max_age", "3600")},
	} {
		res, body := b.get(rp.cfg.AuthCodeURL("state-0123456789", append(opts, pkce)...))
		if q := callbackQuery(t, res, body); q.Get("code") == "" {
			t.Errorf("%s: %v, want a code", name, q)
		}
	}
}

// TestIdPRefusesRequestObjects: the server supports no request objects
// (OIDC Core §6.1) and its discovery says so (request_parameter_supported
// and request_uri_parameter_supported false, the latter's default being
// true). A request parameter is request_not_supported at the registered
// redirect URI with the state, whatever the object says (here: another
// redirect URI, unsigned), and at the PAR endpoint.
func TestIdPRefusesRequestObjects(t *testing.T) {
	s := servertest.New(t)
	rp, b, verifier, _ := signedIn(t, s, "http://127.0.0.1:9/cb")
	object := "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(`{"redirect_uri":"https://evil.example.com/cb"}`)) + "."
	res, body := b.get(rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("request", object)))
	q := callbackQuery(t, res, body)
	if loc := res.Header.Get("Location"); q.Get("error") != "request_not_supported" || q.Get("state") != "state-0123456789" ||
		!strings.HasPrefix(loc, rp.cfg.RedirectURL+"?") {
		t.Errorf("a request object: %q, want request_not_supported at the registered redirect URI", loc)
	}
	if r, _ := pushAuth(t, s, rp, verifier, url.Values{"request": {object}}); r.Status != http.StatusBadRequest ||
		!strings.Contains(string(r.Body), "request_not_supported") {
		t.Errorf("a pushed request object: %d %s, want 400 request_not_supported", r.Status, r.Body)
	}
	var meta map[string]any
	want(t, s.Do(http.MethodGet, "/.well-known/openid-configuration", "", nil), http.StatusOK).JSON(t, &meta)
	for _, k := range []string{"request_parameter_supported", "request_uri_parameter_supported"} {
		if v, ok := meta[k]; !ok || v != false {
			t.Errorf("discovery %s = %v (present %v), want false", k, v, ok)
		}
	}
}

// TestIdPResponseMode: discovery lists response_mode query (OAuth 2.0
// Multiple Response Type Encoding Practices §2.1), so a request naming it
// gets its code; fragment and form_post, not listed, are refused
// (unsupported_response_mode) and issue no code.
func TestIdPResponseMode(t *testing.T) {
	s := servertest.New(t)
	rp, b, verifier, _ := signedIn(t, s, "http://127.0.0.1:9/cb")
	pkce := oauth2.S256ChallengeOption(verifier)
	res, body := b.get(rp.cfg.AuthCodeURL("state-0123456789", pkce, oauth2.SetAuthURLParam("response_mode", "query")))
	if q := callbackQuery(t, res, body); q.Get("code") == "" || q.Get("state") != "state-0123456789" {
		t.Fatalf("response_mode=query: %v, want a code", q)
	}
	for _, mode := range []string{"fragment", "form_post"} {
		res, body := b.get(rp.cfg.AuthCodeURL("state-0123456789", pkce, oauth2.SetAuthURLParam("response_mode", mode)))
		if loc := res.Header.Get("Location"); strings.Contains(loc+body, "code=") || !strings.Contains(loc+body, "unsupported_response_mode") {
			t.Errorf("response_mode=%s: %d %q, want unsupported_response_mode and no code", mode, res.StatusCode, loc)
		}
	}
}

// TestIdPMissingResponseType: a request without response_type is
// invalid_request (RFC 6749 §4.1.2.1: a required parameter is missing),
// at the redirect URI with the state, and by the PAR endpoint (400);
// fosite answered unsupported_response_type, which is for a response
// type that is sent and not supported, as token still is.
func TestIdPMissingResponseType(t *testing.T) {
	s := servertest.New(t)
	rp, b, verifier, _ := signedIn(t, s, "http://127.0.0.1:9/cb")
	pkce := oauth2.S256ChallengeOption(verifier)
	u, err := url.Parse(rp.cfg.AuthCodeURL("state-0123456789", pkce))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("response_type")
	u.RawQuery = q.Encode()
	res, body := b.get(u.String())
	if q := callbackQuery(t, res, body); q.Get("error") != "invalid_request" || q.Get("state") != "state-0123456789" ||
		!strings.Contains(q.Get("error_description"), "response_type") {
		t.Errorf("no response_type: %v, want invalid_request naming response_type, with the state", q)
	}
	res, body = b.get(rp.cfg.AuthCodeURL("state-0123456789", pkce, oauth2.SetAuthURLParam("response_type", "token")))
	if q := callbackQuery(t, res, body); q.Get("error") != "unsupported_response_type" {
		t.Errorf("response_type=token: %v, want unsupported_response_type", q)
	}
	if r, a := pushAuth(t, s, rp, verifier, url.Values{"response_type": nil}); r.Status != http.StatusBadRequest || a.Error != "invalid_request" {
		t.Errorf("PAR without response_type: %d %s, want 400 invalid_request", r.Status, r.Body)
	}
}
