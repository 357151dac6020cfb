package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// OpenID Connect interoperability: what relying parties of other
// ecosystems send that the flows of http_idp_test.go do not.

// exchanged is signedIn with the code exchanged: the app, the browser,
// the PKCE verifier and the tokens (an ID token among them).
func exchanged(t *testing.T, s *servertest.Server, callback string) (codeApp, *browser, string, *oauth2.Token) {
	t.Helper()
	rp, b, verifier, q := signedIn(t, s, callback)
	tok, err := rp.cfg.Exchange(context.WithValue(t.Context(), oauth2.HTTPClient, http.DefaultClient), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return rp, b, verifier, tok
}

// TestIdPEndSessionByPost: OpenID Connect RP-Initiated Logout 1.0 §2
// ("The OP MUST support the use of the HTTP GET and POST methods"): a
// form-encoded POST to the end_session_endpoint is the GET's request. An
// id_token_hint of the signed-in user ends the session and goes back to
// the registered post_logout_redirect_uri with the state; without a hint
// the person confirms on a page naming the app by its name, as the
// consent page does, not by its client_id.
func TestIdPEndSessionByPost(t *testing.T) {
	s := servertest.New(t)
	rp, b, verifier, tok := exchanged(t, s, "http://127.0.0.1:9/cb")
	hint, _ := tok.Extra("id_token").(string)
	end := s.URL + "/v1/oauth/logout"

	// Without a hint: the confirmation page, the session still live.
	for _, send := range []func() (*http.Response, string){
		func() (*http.Response, string) {
			return b.get(end + "?" + url.Values{"client_id": {rp.ClientID}, "post_logout_redirect_uri": {rp.cfg.RedirectURL}}.Encode())
		},
		func() (*http.Response, string) {
			return b.post(end, url.Values{"client_id": {rp.ClientID}, "post_logout_redirect_uri": {rp.cfg.RedirectURL}})
		},
	} {
		res, body := send()
		if res.StatusCode != http.StatusOK || !strings.Contains(body, "<strong>Portal</strong>") || strings.Contains(body, rp.ClientID+"</strong>") {
			t.Fatalf("confirmation page: %d %s", res.StatusCode, body)
		}
		if !strings.Contains(body, `name="csrf_token"`) {
			t.Fatalf("confirmation page without a CSRF token: %s", body)
		}
	}
	res, _ := b.get(rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)))
	if q := callbackQuery(t, res, ""); q.Get("code") == "" {
		t.Fatalf("session ended by a logout request without a hint: %v", q)
	}

	// An unregistered post_logout_redirect_uri is the error page.
	res, _ = b.post(end, url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://evil.example.com/"}})
	if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
		t.Fatalf("POST logout to an unregistered URI: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	// With the hint: signed out at once and sent back with the state.
	res, body := b.post(end, url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {rp.cfg.RedirectURL}, "state": {"bye"}})
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != rp.cfg.RedirectURL+"?state=bye" {
		t.Fatalf("POST logout: %d %q %s", res.StatusCode, loc, body)
	}
	res, _ = b.get(rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)))
	if !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("after POST logout: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	// A parameter given twice says two things: refused.
	res, _ = b.post(end, url.Values{"post_logout_redirect_uri": {rp.cfg.RedirectURL, "https://evil.example.com/"}, "client_id": {rp.ClientID}})
	if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
		t.Fatalf("POST logout with a repeated parameter: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
}

// TestIdPUserinfoTokenInBody: OIDC Core §5.3.1 takes userinfo by GET or
// POST, and RFC 6750 §2.2 the access token as the form-encoded body
// parameter access_token of a POST; exactly one method of sending it
// (§2: "MUST NOT use more than one method"), else invalid_request (§3.1,
// 400). A token in the URL's query (§2.3) is not taken.
func TestIdPUserinfoTokenInBody(t *testing.T) {
	s := servertest.New(t)
	rp := newCodeApp(t, s, "Portal", "http://127.0.0.1:9/cb", "client_secret_basic")
	userID := newUser(t, s, "ada@example.com")
	tok := s.UserToken(rp.ClientID, userID, "openid")
	info := s.URL + "/v1/oauth/userinfo"
	send := func(method, target, auth, body, ctype string) servertest.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, target, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var r servertest.Response
		r.Status, r.Header = res.StatusCode, res.Header
		return r
	}
	form := "application/x-www-form-urlencoded"
	for _, c := range []struct {
		name                      string
		method, target, auth, bod string
		ctype                     string
		status                    int
		wwwAuth                   string
	}{
		{"header, GET", http.MethodGet, info, tok, "", "", http.StatusOK, ""},
		{"header, POST", http.MethodPost, info, tok, "", "", http.StatusOK, ""},
		{"form body", http.MethodPost, info, "", "access_token=" + tok, form, http.StatusOK, ""},
		{"form body with a charset", http.MethodPost, info, "", "access_token=" + tok, form + "; charset=UTF-8", http.StatusOK, ""},
		{"header and form body", http.MethodPost, info, tok, "access_token=" + tok, form, http.StatusBadRequest, "invalid_request"},
		{"form body twice", http.MethodPost, info, "", "access_token=" + tok + "&access_token=" + tok, form, http.StatusBadRequest, "invalid_request"},
		{"query", http.MethodGet, info + "?access_token=" + tok, "", "", "", http.StatusBadRequest, "invalid_request"},
		{"header and query", http.MethodGet, info + "?access_token=" + tok, tok, "", "", http.StatusBadRequest, "invalid_request"},
		{"JSON body is no method", http.MethodPost, info, "", `{"access_token":"` + tok + `"}`, "application/json", http.StatusUnauthorized, ""},
		{"form body, unknown token", http.MethodPost, info, "", "access_token=nope", form, http.StatusUnauthorized, "invalid_token"},
	} {
		r := send(c.method, c.target, c.auth, c.bod, c.ctype)
		if r.Status != c.status {
			t.Errorf("%s: %d, want %d", c.name, r.Status, c.status)
			continue
		}
		if got := r.Header.Get("WWW-Authenticate"); c.wwwAuth != "" && !strings.Contains(got, `error="`+c.wwwAuth+`"`) {
			t.Errorf("%s: WWW-Authenticate %q, want error %q", c.name, got, c.wwwAuth)
		}
	}
}

// TestIdPUserinfoErrorDescriptionChars: userinfo's invalid_request
// answers (RFC 6750 section 3.1) say what was wrong in the characters RFC
// 6749 section 5.2 allows an error_description, as the token endpoint's
// do: a token sent both in the header and in the body was described with
// "RFC 6750 <section sign>2", a byte outside the set. The token need not be
// valid: the request is refused before it is read.
func TestIdPUserinfoErrorDescriptionChars(t *testing.T) {
	s := servertest.New(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/v1/oauth/userinfo", strings.NewReader("access_token=x"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer x")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var a struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if err := json.NewDecoder(res.Body).Decode(&a); err != nil || res.StatusCode != http.StatusBadRequest || a.Error != "invalid_request" {
		t.Fatalf("header and body: %d %+v (%v), want 400 invalid_request", res.StatusCode, a, err)
	}
	wantDescriptionChars(t, a.ErrorDescription)
}

// TestIdPEndSessionWithoutCookie: a relying party's logout form POSTed
// from its own site reaches the end_session_endpoint without the session
// cookie (SameSite=Lax); the id_token_hint's sid (OIDC Front-Channel
// Logout 1.0 §3: the session's id, not the cookie) names the session,
// which ends all the same: the browser that signed in is asked to log in
// again, while another person's session stays. The sid is the same in a
// refreshed ID token, is not the cookie's value, and discovery lists it
// in claims_supported without claiming front- or back-channel logout.
func TestIdPEndSessionWithoutCookie(t *testing.T) {
	s := servertest.New(t)
	rp, b, verifier, tok := exchanged(t, s, "http://127.0.0.1:9/cb")
	hint, _ := tok.Extra("id_token").(string)
	var cookie string
	u, _ := url.Parse(s.URL)
	for _, ck := range b.c.Jar.Cookies(u) {
		if ck.Name == "gh_session" {
			cookie = ck.Value
		}
	}
	newUser(t, s, "bob@example.com")
	bob := newBrowser(t)
	bob.signIn(s, rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)), "bob@example.com", true)

	// The RP's page posts the form: the browser sends no cookie of ours.
	res, body := newBrowser(t).post(s.URL+"/v1/oauth/logout", url.Values{"id_token_hint": {hint},
		"post_logout_redirect_uri": {rp.cfg.RedirectURL}, "state": {"bye"}})
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != rp.cfg.RedirectURL+"?state=bye" {
		t.Fatalf("cookie-less POST logout: %d %q %s", res.StatusCode, loc, body)
	}
	authURL := rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier))
	if res, _ := b.get(authURL); !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("the session named by the hint is still live: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res, _ := bob.get(authURL); callbackQuery(t, res, "").Get("code") == "" {
		t.Fatalf("another person's session ended too: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	// Again (the session is gone): signed out, nothing else.
	if res, body := newBrowser(t).post(s.URL+"/v1/oauth/logout", url.Values{"id_token_hint": {hint}}); res.StatusCode != http.StatusOK ||
		!strings.Contains(body, "Signed out") {
		t.Fatalf("logout of an ended session: %d %s", res.StatusCode, body)
	}

	sid, _ := jwtClaims(t, hint)["sid"].(string)
	if sid == "" {
		t.Fatalf("ID token without sid: %v", jwtClaims(t, hint))
	}
	if cookie == "" || strings.Contains(cookie, sid) || strings.Contains(sid, cookie) {
		t.Fatalf("sid %q, session cookie %q", sid, cookie)
	}
	tok.Expiry = time.Now().Add(-time.Minute)
	again, err := rp.cfg.TokenSource(context.WithValue(t.Context(), oauth2.HTTPClient, http.DefaultClient), tok).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if raw, _ := again.Extra("id_token").(string); raw == "" || jwtClaims(t, raw)["sid"] != sid {
		t.Fatalf("refreshed ID token's sid %v, want %q", jwtClaims(t, raw)["sid"], sid)
	}

	var meta map[string]any
	want(t, s.Do(http.MethodGet, "/.well-known/openid-configuration", "", nil), http.StatusOK).JSON(t, &meta)
	claims, _ := meta["claims_supported"].([]any)
	if !slices.Contains(claims, any("sid")) {
		t.Errorf("claims_supported %v without sid", claims)
	}
	for _, k := range []string{"frontchannel_logout_supported", "frontchannel_logout_session_supported",
		"backchannel_logout_supported", "backchannel_logout_session_supported"} {
		if _, ok := meta[k]; ok {
			t.Errorf("discovery claims %s", k)
		}
	}
}

// TestIdPIDTokenHintOfAnotherUser: OpenID Connect Core §3.1.2.1: with an
// id_token_hint, "if the End-User identified by the ID Token is logged in
// or is logged in by the request, then the Authorization Server returns a
// positive response; otherwise, it SHOULD return an error, such as
// login_required". A browser signed in as Ada, asked silently
// (prompt=none) about Grace, gets login_required, not a code for Ada; asked
// with a page, it gets the login page, and whoever signs in there is
// answered (the hint does not send them back to it). A hint naming Ada
// herself answers silently. A pushed request's hint counts alike.
func TestIdPIDTokenHintOfAnotherUser(t *testing.T) {
	s := servertest.New(t)
	rp, ada, _, adaTok := exchanged(t, s, "http://127.0.0.1:9/cb")
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, http.DefaultClient)
	grace := newUser(t, s, "grace@example.com")
	verifier := oauth2.GenerateVerifier()
	pkce := oauth2.S256ChallengeOption(verifier)
	q := newBrowser(t).signIn(s, rp.cfg.AuthCodeURL("state-0123456789", pkce), "grace@example.com", true)
	graceTok, err := rp.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	hint := func(tok *oauth2.Token) oauth2.AuthCodeOption {
		raw, _ := tok.Extra("id_token").(string)
		return oauth2.SetAuthURLParam("id_token_hint", raw)
	}
	none := oauth2.SetAuthURLParam("prompt", "none")
	res, _ := ada.get(rp.cfg.AuthCodeURL("state-0123456789", pkce, none, hint(adaTok)))
	if q := callbackQuery(t, res, ""); q.Get("code") == "" {
		t.Fatalf("prompt=none with Ada's own hint: %v", q)
	}
	res, _ = ada.get(rp.cfg.AuthCodeURL("state-0123456789", pkce, none, hint(graceTok)))
	if q := callbackQuery(t, res, ""); q.Get("error") != "login_required" {
		t.Fatalf("prompt=none with Grace's hint in Ada's browser: %v, want login_required", q)
	}
	// A pushed request keeps its hint.
	graceHint, _ := graceTok.Extra("id_token").(string)
	r, pushed := pushAuth(t, s, rp, verifier, url.Values{"prompt": {"none"}, "id_token_hint": {graceHint}})
	if r.Status != http.StatusCreated {
		t.Fatalf("push with Grace's hint: %d %s", r.Status, r.Body)
	}
	res, _ = ada.get(parAuthURL(s, rp.ClientID, pushed.RequestURI))
	if q := callbackQuery(t, res, ""); q.Get("error") != "login_required" {
		t.Fatalf("a pushed prompt=none with Grace's hint in Ada's browser: %v, want login_required", q)
	}
	res, _ = ada.get(rp.cfg.AuthCodeURL("state-0123456789", pkce, hint(graceTok)))
	if !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("Grace's hint in Ada's browser: %d %q, want the login page", res.StatusCode, res.Header.Get("Location"))
	}
	q = ada.signIn(s, rp.cfg.AuthCodeURL("state-0123456789", pkce, hint(graceTok)), "grace@example.com", true)
	tok, err := rp.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if sub := jwtClaims(t, tok.AccessToken)["sub"]; sub != grace {
		t.Fatalf("signed in as Grace after her hint: sub %v, want %s", sub, grace)
	}
}
