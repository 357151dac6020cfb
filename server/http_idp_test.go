package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// The identity provider's person side (package idp), through real
// clients: golang.org/x/oauth2 for the relying party, a cookie-keeping
// http.Client for the browser.

const idpPassword = "correct horse battery staple 42"

// codeApp is an app of the authorization_code grant and its relying
// party's OAuth 2.0 configuration.
type codeApp struct {
	app
	cfg *oauth2.Config
}

// newCodeApp is the ONE place the tests create an app of the code flow:
// grants authorization_code and refresh_token, redirect URI callback,
// scope cases:read (approved without a decision), auth method as given
// ("none": a public client), and the further App fields of settings.
// Approvals of the grant and the redirect URI (issue 14's governance)
// belong here.
func newCodeApp(t *testing.T, s *servertest.Server, name, callback, method string, settings ...map[string]any) codeApp {
	t.Helper()
	admin := s.Token()
	if r := s.Do(http.MethodPost, "/v1/platform/scopes", admin, map[string]any{"name": "cases:read", "description": "Read your cases",
		"requires_approval": false}); r.Status != http.StatusCreated && r.Status != http.StatusConflict {
		t.Fatalf("scope: %d %s", r.Status, r.Body)
	}
	var a app
	body := map[string]any{"name": name,
		"grant_types": []string{"authorization_code", "refresh_token"}, "redirect_uris": []string{callback},
		"requested_scopes": []string{"cases:read"}, "token_endpoint_auth_method": method}
	for _, m := range settings {
		maps.Copy(body, m)
	}
	want(t, s.Do(http.MethodPost, "/v1/platform/apps", admin, body), http.StatusCreated).JSON(t, &a)
	s.ApproveCodeFlow(a.ID)
	style := oauth2.AuthStyleInHeader
	if method == "none" {
		style = oauth2.AuthStyleInParams
	}
	return codeApp{app: a, cfg: &oauth2.Config{ClientID: a.ClientID, ClientSecret: a.ClientSecret, RedirectURL: callback,
		Endpoint: oauth2.Endpoint{AuthURL: s.URL + "/v1/oauth/authorize", TokenURL: s.URL + "/v1/oauth/token", AuthStyle: style},
		Scopes:   []string{"openid", "offline_access", "cases:read"}}}
}

// newUser creates a user of the default tenant.
func newUser(t *testing.T, s *servertest.Server, email string) string {
	t.Helper()
	var u struct{ ID string }
	want(t, s.Do(http.MethodPost, "/v1/platform/users", s.Token(), map[string]any{"email": email, "name": "Ada Lovelace",
		"password": idpPassword}), http.StatusCreated).JSON(t, &u)
	return u.ID
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t *testing.T
	c *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(b.t.Context(), http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(b.t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var (
	csrfRe     = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	returnToRe = regexp.MustCompile(`name="return_to" value="([^"]+)"`)
)

func field(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in page:\n%s", re, body)
	}
	return html.UnescapeString(m[1])
}

// follow follows one redirect of this server.
func (b *browser) follow(base string, res *http.Response) (*http.Response, string) {
	b.t.Helper()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther && res.StatusCode != http.StatusFound {
		b.t.Fatalf("status %d, want a redirect", res.StatusCode)
	}
	if strings.HasPrefix(loc, "/") {
		loc = base + loc
	}
	return b.get(loc)
}

// signIn drives the browser from the authorization URL through login
// and consent to the callback and returns the callback's query.
func (b *browser) signIn(s *servertest.Server, authURL, email string, approve bool) url.Values {
	b.t.Helper()
	res, _ := b.get(authURL)
	var body string
	if strings.HasPrefix(res.Header.Get("Location"), "/login") {
		res, body = b.follow(s.URL, res)
		if res.StatusCode != http.StatusOK {
			b.t.Fatalf("login page %d: %s", res.StatusCode, body)
		}
		res, body = b.post(s.URL+"/login", url.Values{"csrf_token": {field(b.t, csrfRe, body)}, "return_to": {field(b.t, returnToRe, body)},
			"email": {email}, "password": {idpPassword}})
		if res.StatusCode != http.StatusSeeOther {
			b.t.Fatalf("login %d: %s", res.StatusCode, body)
		}
		res, _ = b.follow(s.URL, res)
	}
	if strings.HasPrefix(res.Header.Get("Location"), "/consent") {
		res, body = b.follow(s.URL, res)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, "Read your cases") {
			b.t.Fatalf("consent page %d: %s", res.StatusCode, body)
		}
		decision := "deny"
		if approve {
			decision = "approve"
		}
		res, body = b.post(s.URL+"/consent", url.Values{"csrf_token": {field(b.t, csrfRe, body)}, "return_to": {field(b.t, returnToRe, body)},
			"decision": {decision}})
		if !approve {
			return callbackQuery(b.t, res, body)
		}
		res, _ = b.follow(s.URL, res)
	}
	return callbackQuery(b.t, res, "")
}

func callbackQuery(t *testing.T, res *http.Response, body string) url.Values {
	t.Helper()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || loc.Host == "" || (res.StatusCode != http.StatusSeeOther && res.StatusCode != http.StatusFound) {
		t.Fatalf("not a redirect to the client: %d %q %s", res.StatusCode, res.Header.Get("Location"), body)
	}
	return loc.Query()
}

func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	return jwtPart(t, tok, 1)
}

// jwtHeader returns the JOSE header of the compact JWS tok.
func jwtHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	return jwtPart(t, tok, 0)
}

// jwtPart decodes part i (0: the header, 1: the claims) of the JWT tok.
func jwtPart(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIdPCodeFlowWithPKCE(t *testing.T) {
	s := servertest.New(t)
	rp := newCodeApp(t, s, "Case portal", "http://127.0.0.1:9/callback", "client_secret_basic")
	userID := newUser(t, s, "ada@example.com")
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	q := b.signIn(s, rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)), "ada@example.com", true)
	if q.Get("state") != "state-0123456789" || q.Get("code") == "" {
		t.Fatalf("callback %v", q)
	}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, http.DefaultClient)
	tok, err := rp.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	c := jwtClaims(t, tok.AccessToken)
	if c["sub"] != userID || c["client_id"] != rp.ClientID || c["tid"] == "" || !strings.Contains(c["scope"].(string), "cases:read") {
		t.Fatalf("claims %v", c)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	// The code is single-use: a second exchange fails and revokes the
	// first one's tokens.
	if _, err := rp.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("second exchange: %v, want invalid_grant", err)
	}
	var intro struct {
		Active bool `json:"active"`
	}
	want(t, s.Form("/v1/oauth/introspect", s.AdminID, s.AdminSecret, map[string][]string{"token": {tok.AccessToken}}), http.StatusOK).JSON(t, &intro)
	if intro.Active {
		t.Fatal("the first exchange's access token is still active after the code's reuse")
	}
	if _, err := rp.cfg.TokenSource(ctx, tok).Token(); err != nil {
		// the token is still valid locally; force a refresh instead
		_ = err
	}
	tok.Expiry = tok.Expiry.Add(-24 * 3600e9)
	if _, err := rp.cfg.TokenSource(ctx, tok).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("refresh of a revoked family: %v, want invalid_grant", err)
	}

	// A remembered consent is not asked again.
	verifier = oauth2.GenerateVerifier()
	res, _ := b.get(rp.cfg.AuthCodeURL("state-abcdefghij", oauth2.S256ChallengeOption(verifier)))
	q = callbackQuery(t, res, "")
	tok, err = rp.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	// Refresh rotates; the used refresh token's reuse revokes the family.
	old := tok.RefreshToken
	tok.Expiry = tok.Expiry.Add(-24 * 3600e9)
	next, err := rp.cfg.TokenSource(ctx, tok).Token()
	if err != nil || next.RefreshToken == "" || next.RefreshToken == old {
		t.Fatalf("refresh: %v %+v", err, next)
	}
	reuse := &oauth2.Token{RefreshToken: old}
	if _, err := rp.cfg.TokenSource(ctx, reuse).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("reuse: %v, want invalid_grant", err)
	}
	next.Expiry = next.Expiry.Add(-24 * 3600e9)
	if _, err := rp.cfg.TokenSource(ctx, next).Token(); err == nil {
		t.Fatal("the family's live refresh token still works after a reuse")
	}
}

func TestIdPPublicClientNeedsPKCE(t *testing.T) {
	s := servertest.New(t)
	rp := newCodeApp(t, s, "CLI", "http://127.0.0.1/callback", "none")
	newUser(t, s, "ada@example.com")
	b := newBrowser(t)
	q := b.signIn(s, rp.cfg.AuthCodeURL("state-0123456789"), "ada@example.com", true)
	if q.Get("error") != "invalid_request" {
		t.Fatalf("public client without PKCE: %v", q)
	}
	// Loopback redirect URIs match on any port (RFC 8252 §7.3).
	rp.cfg.RedirectURL = "http://127.0.0.1:53123/callback"
	// (Refused before the login page: the browser signs in now.)
	verifier := oauth2.GenerateVerifier()
	q = b.signIn(s, rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)), "ada@example.com", true)
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, http.DefaultClient)
	if _, err := rp.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption("wrong-verifier-wrong-verifier-wrong-verifier-0")); err == nil {
		t.Fatal("PKCE mismatch accepted")
	}
}

func TestIdPErrors(t *testing.T) {
	s := servertest.New(t)
	rp := newCodeApp(t, s, "Portal", "https://portal.example.com/cb", "client_secret_basic")
	newUser(t, s, "ada@example.com")
	b := newBrowser(t)
	// An unregistered redirect URI: the error page, never a redirect.
	bad := *rp.cfg
	bad.RedirectURL = "https://evil.example.com/cb"
	res, body := b.get(bad.AuthCodeURL("state-0123456789"))
	if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" || !strings.Contains(body, "<h1>") {
		t.Fatalf("redirect mismatch: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	res, _ = b.get(s.URL + "/v1/oauth/authorize?response_type=code&client_id=nope&redirect_uri=https://evil.example.com/")
	if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
		t.Fatalf("unknown client: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	// prompt=none without a session: login_required at the client.
	res, _ = b.get(rp.cfg.AuthCodeURL("state-0123456789", oauth2.SetAuthURLParam("prompt", "none")))
	if q := callbackQuery(t, res, ""); q.Get("error") != "login_required" {
		t.Fatalf("prompt=none: %v", q)
	}
	// The login page: CSRF missing is refused; a wrong password gets the
	// one generic message, announced.
	res, _ = b.get(rp.cfg.AuthCodeURL("state-0123456789", oauth2.SetAuthURLParam("login_hint", "ada@example.com")))
	res, body = b.follow(s.URL, res)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `value="ada@example.com"`) || !strings.Contains(body, `lang="en"`) {
		t.Fatalf("login page: %s", body)
	}
	back := field(t, returnToRe, body)
	res, _ = b.post(s.URL+"/login", url.Values{"return_to": {back}, "email": {"ada@example.com"}, "password": {idpPassword}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("login without CSRF: %d", res.StatusCode)
	}
	for _, email := range []string{"ada@example.com", "nobody@example.com"} {
		res, body = b.post(s.URL+"/login", url.Values{"csrf_token": {field(t, csrfRe, body)}, "return_to": {back}, "email": {email}, "password": {"wrong password 123456"}})
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, `role="alert">Email or password is incorrect.`) {
			t.Fatalf("wrong password for %s: %d %s", email, res.StatusCode, body)
		}
	}
	// Deny: access_denied at the client.
	q := b.signIn(s, rp.cfg.AuthCodeURL("state-0123456789"), "ada@example.com", false)
	if q.Get("error") != "access_denied" {
		t.Fatalf("deny: %v", q)
	}
}

func TestIdPLoginThrottled(t *testing.T) {
	s := servertest.New(t, servertest.Env("LOGIN_FAILURES", "2"))
	newUser(t, s, "ada@example.com")
	b := newBrowser(t)
	_, body := b.get(s.URL + "/login")
	var res *http.Response
	for range 3 {
		res, body = b.post(s.URL+"/login", url.Values{"csrf_token": {field(t, csrfRe, body)}, "email": {"ada@example.com"}, "password": {"nope nope nope nope"}})
	}
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("third failure: %d", res.StatusCode)
	}
	// Even the right password waits out the window.
	res, _ = b.post(s.URL+"/login", url.Values{"csrf_token": {field(t, csrfRe, body)}, "email": {"ada@example.com"}, "password": {idpPassword}})
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("throttled login: %d", res.StatusCode)
	}
}

func TestIdPDisabledUser(t *testing.T) {
	s := servertest.New(t)
	rp := newCodeApp(t, s, "Portal", "http://127.0.0.1:9/cb", "client_secret_basic")
	userID := newUser(t, s, "ada@example.com")
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	q := b.signIn(s, rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)), "ada@example.com", true)
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, http.DefaultClient)
	tok, err := rp.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	want(t, s.Do(http.MethodPatch, "/v1/platform/users/"+userID, s.Token(), map[string]any{"disabled": true}), http.StatusOK)
	tok.Expiry = tok.Expiry.Add(-24 * 3600e9)
	if _, err := rp.cfg.TokenSource(ctx, tok).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("refresh of a disabled user: %v", err)
	}
	// The session ended: the browser is sent to the login page again.
	res, _ := b.get(rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)))
	if !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("disabled user's session: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestIdPOpenIDConnect(t *testing.T) {
	s := servertest.New(t)
	rp := newCodeApp(t, s, "OIDC portal", "http://127.0.0.1:9/cb", "client_secret_basic")
	userID := newUser(t, s, "ada@example.com")
	ctx := oidc.ClientContext(t.Context(), http.DefaultClient)
	provider, err := oidc.NewProvider(ctx, s.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var meta struct {
		Authorization string   `json:"authorization_endpoint"`
		Userinfo      string   `json:"userinfo_endpoint"`
		EndSession    string   `json:"end_session_endpoint"`
		Challenge     []string `json:"code_challenge_methods_supported"`
		Subjects      []string `json:"subject_types_supported"`
		IDAlgs        []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := provider.Claims(&meta); err != nil || meta.Authorization != s.URL+"/v1/oauth/authorize" || meta.Userinfo == "" ||
		meta.EndSession == "" || len(meta.Challenge) != 1 || meta.Challenge[0] != "S256" || len(meta.Subjects) != 1 || len(meta.IDAlgs) == 0 {
		t.Fatalf("discovery %+v %v", meta, err)
	}
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	q := b.signIn(s, rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-xyz-123")), "ada@example.com", true)
	tok, err := rp.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: rp.ClientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	if idt.Subject != userID || idt.Nonce != "nonce-xyz-123" {
		t.Fatalf("ID token sub %q nonce %q", idt.Subject, idt.Nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	var claims struct {
		Email    string `json:"email"`
		AuthTime int64  `json:"auth_time"`
		Tenant   string `json:"tid"`
	}
	if err := idt.Claims(&claims); err != nil || claims.Email != "ada@example.com" || claims.AuthTime == 0 || claims.Tenant == "" {
		t.Fatalf("ID token claims %+v %v", claims, err)
	}
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || info.Subject != userID || info.Email != "ada@example.com" {
		t.Fatalf("userinfo %+v %v", info, err)
	}
	// A service token is not a person's: userinfo refuses it.
	r := s.Do(http.MethodGet, "/v1/oauth/userinfo", s.Token(), nil)
	if r.Status != http.StatusForbidden {
		t.Fatalf("userinfo with a service token: %d %s", r.Status, r.Body)
	}
	// RP-initiated logout: an unregistered post_logout_redirect_uri is an
	// error page; a registered one ends the session and goes back.
	res, _ := b.get(meta.EndSession + "?" + url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {"https://evil.example.com/"}}.Encode())
	if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" {
		t.Fatalf("logout to an unregistered URI: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	res, _ = b.get(meta.EndSession + "?" + url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {"http://127.0.0.1:9/cb"}, "state": {"bye"}}.Encode())
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "http://127.0.0.1:9/cb?state=bye" {
		t.Fatalf("logout: %d %q", res.StatusCode, loc)
	}
	res, _ = b.get(rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)))
	if !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("after logout: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestIdPMyConsents(t *testing.T) {
	s := servertest.New(t)
	rp, b, verifier, q := signedIn(t, s, "http://127.0.0.1:9/cb")
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, http.DefaultClient)
	tok, err := rp.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []struct {
			AppID   string   `json:"app_id"`
			AppName string   `json:"app_name"`
			Scopes  []string `json:"scopes"`
		} `json:"items"`
	}
	want(t, s.Do(http.MethodGet, "/v1/me/consents", tok.AccessToken, nil), http.StatusOK).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0].AppID != rp.ID || list.Items[0].AppName != "Portal" {
		t.Fatalf("consents %+v", list)
	}
	wantProblem(t, s.Do(http.MethodGet, "/v1/me/consents", s.Token(), nil), http.StatusForbidden, "forbidden")
	wantProblem(t, s.Do(http.MethodGet, "/v1/me/consents", "", nil), http.StatusUnauthorized, "unauthorized")
	// The account page lists the consent too.
	_, body := b.get(s.URL + "/account")
	if !strings.Contains(body, "Portal") || !strings.Contains(body, "cases:read") {
		t.Fatalf("account page: %s", body)
	}
	// Withdrawing kills the app's refresh tokens for the user, and the
	// next sign-in asks again.
	want(t, s.Do(http.MethodDelete, "/v1/me/consents/"+rp.ID, tok.AccessToken, nil), http.StatusNoContent)
	tok.Expiry = tok.Expiry.Add(-24 * 3600e9)
	if _, err := rp.cfg.TokenSource(ctx, tok).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("refresh after withdrawal: %v", err)
	}
	res, _ := b.get(rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)))
	if !strings.HasPrefix(res.Header.Get("Location"), "/consent") {
		t.Fatalf("after withdrawal: %q", res.Header.Get("Location"))
	}
}

func TestIdPPromptAndMaxAge(t *testing.T) {
	s := servertest.New(t)
	rp := newCodeApp(t, s, "Portal", "http://127.0.0.1:9/cb", "client_secret_basic")
	newUser(t, s, "ada@example.com")
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	pkce := oauth2.S256ChallengeOption(verifier)
	if q := b.signIn(s, rp.cfg.AuthCodeURL("state-0123456789", pkce), "ada@example.com", true); q.Get("code") == "" {
		t.Fatalf("sign-in: %v", q)
	}
	// prompt=none with a session and a consent: a code, no page.
	res, _ := b.get(rp.cfg.AuthCodeURL("state-0123456789", pkce, oauth2.SetAuthURLParam("prompt", "none")))
	if q := callbackQuery(t, res, ""); q.Get("code") == "" {
		t.Fatalf("prompt=none with a session: %v", q)
	}
	// prompt=login and max_age=0 ask for the password again; after it,
	// the request goes on without asking once more.
	for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0")} {
		res, _ = b.get(rp.cfg.AuthCodeURL("state-0123456789", pkce, opt))
		if !strings.HasPrefix(res.Header.Get("Location"), "/login") {
			t.Fatalf("%v: %d %q", opt, res.StatusCode, res.Header.Get("Location"))
		}
		if q := b.signIn(s, rp.cfg.AuthCodeURL("state-0123456789", pkce, opt), "ada@example.com", true); q.Get("code") == "" {
			t.Fatalf("%v: %v", opt, q)
		}
	}
	// prompt=consent shows the consent page although one is remembered.
	res, _ = b.get(rp.cfg.AuthCodeURL("state-0123456789", pkce, oauth2.SetAuthURLParam("prompt", "consent")))
	if !strings.HasPrefix(res.Header.Get("Location"), "/consent") {
		t.Fatalf("prompt=consent: %q", res.Header.Get("Location"))
	}
	// The same request as a form post.
	post := url.Values{"response_type": {"code"}, "client_id": {rp.ClientID}, "redirect_uri": {rp.cfg.RedirectURL},
		"scope": {"openid cases:read"}, "state": {"state-0123456789"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"}}
	res, _ = b.post(s.URL+"/v1/oauth/authorize", post)
	if q := callbackQuery(t, res, ""); q.Get("code") == "" {
		t.Fatalf("POST authorize: %v", q)
	}
}

// TestIdPAnswers provokes each documented answer of the sign-in
// operations that the flows above do not reach.
func TestIdPAnswers(t *testing.T) {
	s := servertest.New(t)
	rp := newCodeApp(t, s, "Portal", "http://127.0.0.1:9/cb", "client_secret_basic")
	newUser(t, s, "ada@example.com")
	b := newBrowser(t)
	status := func(name string, res *http.Response, want int) {
		t.Helper()
		if res.StatusCode != want {
			t.Errorf("%s: %d, want %d", name, res.StatusCode, want)
		}
	}
	res, css := b.get(s.URL + "/idp/assets/style.css")
	if status("style", res, http.StatusOK); !strings.Contains(css, "focus-visible") {
		t.Errorf("style sheet: %s", css)
	}
	res, _ = b.get(s.URL + "/login?tenant=nope")
	status("login of an unknown tenant", res, http.StatusBadRequest)
	res, _ = b.get(s.URL + "/consent")
	status("consent without a request", res, http.StatusBadRequest)
	res, body := b.get(s.URL + "/logout")
	status("logout page", res, http.StatusOK)
	csrf := field(t, csrfRe, body)
	for path, form := range map[string]url.Values{"/consent": {}, "/logout": {}, "/account/consents/withdraw": {"app_id": {rp.ID}},
		"/login": {"email": {"ada@example.com"}, "password": {idpPassword}}} {
		res, _ = b.post(s.URL+path, form)
		status("POST "+path+" without CSRF", res, http.StatusForbidden)
	}
	res, _ = b.post(s.URL+"/consent", url.Values{"csrf_token": {csrf}})
	status("POST /consent without a request", res, http.StatusBadRequest)
	// A token answers its own page's form only: the logout page's is no
	// login form's (whose token is bound to its return_to).
	res, _ = b.post(s.URL+"/login", url.Values{"csrf_token": {csrf}, "return_to": {"/v1/oauth/authorize?client_id=nope"}, "email": {"a@b.c"}, "password": {"x"}})
	status("POST /login for an unknown app with the logout page's token", res, http.StatusForbidden)
	res, _ = b.post(s.URL+"/logout", url.Values{"csrf_token": {csrf}})
	status("POST /logout", res, http.StatusOK)
	res, _ = b.get(s.URL + "/v1/oauth/logout")
	status("RP logout without a session", res, http.StatusOK)
	res, _ = b.get(s.URL + "/v1/oauth/logout?id_token_hint=not.a.token")
	status("RP logout with a foreign hint", res, http.StatusBadRequest)
	res, _ = b.post(s.URL+"/v1/oauth/authorize", url.Values{"client_id": {"nope"}})
	status("POST authorize of an unknown client", res, http.StatusBadRequest)

	verifier := oauth2.GenerateVerifier()
	q := b.signIn(s, rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)), "ada@example.com", true)
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, http.DefaultClient)
	tok, err := rp.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	want(t, s.Do(http.MethodPost, "/v1/oauth/userinfo", tok.AccessToken, nil), http.StatusOK)
	want(t, s.Do(http.MethodPost, "/v1/oauth/userinfo", "", nil), http.StatusUnauthorized)
	want(t, s.Do(http.MethodGet, "/v1/oauth/userinfo", "", nil), http.StatusUnauthorized)
	want(t, s.Do(http.MethodPost, "/v1/oauth/userinfo", s.Token(), nil), http.StatusForbidden)
	wantProblem(t, s.Do(http.MethodDelete, "/v1/me/consents/app_nope", tok.AccessToken, nil), http.StatusNotFound, "not_found")
}
