package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/server/servertest"
)

// RFC 8693 identifiers.
const (
	teGrant  = "urn:ietf:params:oauth:grant-type:token-exchange"
	teAccess = "urn:ietf:params:oauth:token-type:access_token"
)

// exchangeAnswer is a token endpoint answer, success or error.
type exchangeAnswer struct {
	AccessToken      string `json:"access_token"`
	IssuedTokenType  string `json:"issued_token_type"`
	TokenType        string `json:"token_type"`
	ExpiresIn        *int64 `json:"expires_in"`
	RefreshToken     string `json:"refresh_token"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	// raw is the whole answer (wantExchange).
	raw servertest.Response
}

// wantExchange fails the test unless r is an RFC 6749 §5.1 answer of an
// exchanged access token (RFC 8693 §2.2.1), never cached, with no
// refresh token; it returns the answer.
func wantExchange(t *testing.T, r servertest.Response) exchangeAnswer {
	t.Helper()
	var a exchangeAnswer
	want(t, r, http.StatusOK).JSON(t, &a)
	if a.AccessToken == "" || a.IssuedTokenType != teAccess || a.TokenType != "Bearer" || a.ExpiresIn == nil || *a.ExpiresIn <= 0 ||
		a.RefreshToken != "" || strings.Contains(string(r.Body), "refresh_token") {
		t.Fatalf("exchange answer %s", r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Pragma") != "no-cache" {
		t.Fatalf("exchange answer headers %v", r.Header)
	}
	a.raw = r
	return a
}

// wantExchangeError fails the test unless r is an RFC 6749 §5.2 error
// of status and code with a description, never cached; a 401 challenges.
func wantExchangeError(t *testing.T, r servertest.Response, status int, code string) exchangeAnswer {
	t.Helper()
	var a exchangeAnswer
	want(t, r, status).JSON(t, &a)
	if a.Error != code || a.ErrorDescription == "" || a.AccessToken != "" {
		t.Fatalf("want %s with a description: %s", code, r.Body)
	}
	wantDescriptionChars(t, a.ErrorDescription)
	if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Pragma") != "no-cache" {
		t.Fatalf("error headers %v", r.Header)
	}
	if status == http.StatusUnauthorized && r.Header.Get("WWW-Authenticate") != `Basic realm="gatehouse"` {
		t.Fatalf("401 challenge %q", r.Header.Get("WWW-Authenticate"))
	}
	return a
}

// exchangeSetup is a server whose credential "crm" (its provider the
// server itself, client credentials) is exchangeable and granted to an
// app holding credentials:use.
type exchangeSetup struct {
	s     *servertest.Server
	admin string
	app   app
	cred  credential
}

func newExchangeSetup(t *testing.T) exchangeSetup {
	t.Helper()
	s := servertest.New(t)
	admin := s.Token()
	provider := createApp(t, s, admin, map[string]any{"name": "provider-client", "access_token_ttl_seconds": 600})
	a := createApp(t, s, admin, map[string]any{"name": "integrator", "requested_scopes": []string{"credentials:use"}})
	decide(t, s, admin, a.ID, "credentials:use", "approve")
	var c credential
	want(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": "crm", "provider": "custom",
		"grant_type": "client_credentials", "client_id": provider.ClientID, "client_secret": provider.ClientSecret,
		"token_url": s.URL + "/v1/oauth/token", "scopes": []string{}, "grants": []string{a.ID}, "exchangeable": true}),
		http.StatusCreated).JSON(t, &c)
	return exchangeSetup{s: s, admin: admin, app: a, cred: c}
}

// form is a token-exchange request of subject for the credential, with
// changes: a nil value removes the parameter.
func (x exchangeSetup) form(subject string, changes map[string][]string) url.Values {
	f := url.Values{"grant_type": {teGrant}, "subject_token": {subject}, "subject_token_type": {teAccess}, "resource": {x.cred.ID}}
	for k, v := range changes {
		if v == nil {
			delete(f, k)
		} else {
			f[k] = v
		}
	}
	return f
}

// TestHTTPTokenExchangeRequest (RFC 8693 §2.1, §2.2, RFC 6749 §5): the
// request's parameters as the RFC defines them, each refusal with its
// code and a description, and the answer's members and headers, with
// client_secret_basic, client_secret_post and private_key_jwt. The
// credential is named by resource (its id, its name, or its URI in this
// API: RFC 8693 §2.1 makes resource an absolute URI) or by audience (the
// "logical name of the target service").
func TestHTTPTokenExchangeRequest(t *testing.T) {
	x := newExchangeSetup(t)
	s := x.s
	subject := s.TokenFor(x.app.ClientID, x.app.ClientSecret)
	ex := func(changes map[string][]string) servertest.Response {
		return s.Form("/v1/oauth/token", x.app.ClientID, x.app.ClientSecret, x.form(subject, changes))
	}

	// The provider's token, and it is live at the provider.
	got := wantExchange(t, ex(nil))
	var intro struct {
		Active bool `json:"active"`
	}
	want(t, s.Form("/v1/oauth/introspect", s.AdminID, s.AdminSecret, url.Values{"token": {got.AccessToken}}), http.StatusOK).JSON(t, &intro)
	if !intro.Active || got.AccessToken == subject {
		t.Fatalf("the exchanged token is not the provider's live token: %+v", got)
	}

	// RFC 8693 §2.2.1: the answer names the provider token's scopes (the
	// client requested none); a token of no scope has no scope member.
	if strings.Contains(string(ex(nil).Body), `"scope"`) {
		t.Fatal("a scope member for a token of no scope")
	}
	want(t, s.Do(http.MethodPost, "/v1/platform/scopes", x.admin, map[string]any{"name": "cases:read", "description": "Read cases",
		"requires_approval": false}), http.StatusCreated)
	scoped := createApp(t, s, x.admin, map[string]any{"name": "scoped-provider", "requested_scopes": []string{"cases:read"}})
	want(t, s.Do(http.MethodPost, "/v1/credentials", x.admin, map[string]any{"name": "cases", "provider": "custom",
		"grant_type": "client_credentials", "client_id": scoped.ClientID, "client_secret": scoped.ClientSecret,
		"token_url": s.URL + "/v1/oauth/token", "scopes": []string{"cases:read"}, "grants": []string{x.app.ID}, "exchangeable": true}),
		http.StatusCreated)
	var withScope struct {
		Scope string `json:"scope"`
	}
	wantExchange(t, ex(map[string][]string{"resource": {"cases"}})).raw.JSON(t, &withScope)
	if withScope.Scope != "cases:read" {
		t.Fatalf("scope %q, want cases:read", withScope.Scope)
	}

	// The ways to name the credential.
	for name, changes := range map[string]map[string][]string{
		"requested_token_type":      {"requested_token_type": {teAccess}},
		"resource by name":          {"resource": {"crm"}},
		"resource by name, case":    {"resource": {"CRM"}},
		"resource as URI":           {"resource": {s.URL + "/v1/credentials/" + x.cred.ID}},
		"resource as URI by name":   {"resource": {s.URL + "/v1/credentials/crm"}},
		"audience":                  {"resource": nil, "audience": {x.cred.ID}},
		"audience by name":          {"resource": nil, "audience": {"crm"}},
		"audience and resource":     {"audience": {"crm"}},
		"audience and resource URI": {"audience": {"crm"}, "resource": {s.URL + "/v1/credentials/" + x.cred.ID}},
	} {
		t.Run(name, func(t *testing.T) {
			if r := ex(changes); r.Status != http.StatusOK {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
	}

	// Refusals of the request.
	other := createApp(t, s, x.admin, map[string]any{"name": "other"})
	for _, c := range []struct {
		name, code string
		changes    map[string][]string
	}{
		{"no subject_token", "invalid_request", map[string][]string{"subject_token": nil}},
		{"empty subject_token", "invalid_request", map[string][]string{"subject_token": {""}}},
		{"no subject_token_type", "invalid_request", map[string][]string{"subject_token_type": nil}},
		{"subject_token_type jwt", "invalid_request", map[string][]string{"subject_token_type": {"urn:ietf:params:oauth:token-type:jwt"}}},
		{"subject_token_type id_token", "invalid_request", map[string][]string{"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"}}},
		{"subject_token_type refresh_token", "invalid_request", map[string][]string{"subject_token_type": {"urn:ietf:params:oauth:token-type:refresh_token"}}},
		{"actor_token without its type", "invalid_request", map[string][]string{"actor_token": {subject}}},
		{"actor_token_type without a token", "invalid_request", map[string][]string{"actor_token_type": {teAccess}}},
		{"actor_token", "invalid_request", map[string][]string{"actor_token": {subject}, "actor_token_type": {teAccess}}},
		{"requested refresh_token", "invalid_request", map[string][]string{"requested_token_type": {"urn:ietf:params:oauth:token-type:refresh_token"}}},
		{"requested id_token", "invalid_request", map[string][]string{"requested_token_type": {"urn:ietf:params:oauth:token-type:id_token"}}},
		{"requested jwt", "invalid_request", map[string][]string{"requested_token_type": {"urn:ietf:params:oauth:token-type:jwt"}}},
		{"scope", "invalid_scope", map[string][]string{"scope": {"credentials:use"}}},
		{"repeated subject_token", "invalid_request", map[string][]string{"subject_token": {subject, subject}}},
		{"repeated subject_token_type", "invalid_request", map[string][]string{"subject_token_type": {teAccess, teAccess}}},
		{"no resource nor audience", "invalid_target", map[string][]string{"resource": nil}},
		{"two resources", "invalid_target", map[string][]string{"resource": {x.cred.ID, "crm"}}},
		{"two audiences", "invalid_target", map[string][]string{"resource": nil, "audience": {x.cred.ID, "crm"}}},
		{"unknown credential", "invalid_target", map[string][]string{"resource": {"cred_nothere"}}},
		{"URI of another server", "invalid_target", map[string][]string{"resource": {"https://elsewhere.example/v1/credentials/" + x.cred.ID}}},
		{"URI of another path", "invalid_target", map[string][]string{"resource": {s.URL + "/v1/proxy/" + x.cred.ID}}},
		{"resource and audience of two credentials", "invalid_target", map[string][]string{"audience": {"cred_nothere"}}},
		{"bad subject_token", "invalid_request", map[string][]string{"subject_token": {"not-a-token"}}},
		{"another app's subject_token", "invalid_request", map[string][]string{"subject_token": {s.TokenFor(other.ClientID, other.ClientSecret)}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantExchangeError(t, ex(c.changes), http.StatusBadRequest, c.code)
		})
	}

	// Client authentication: the secret in the form, a wrong secret (401
	// and the challenge), and a private_key_jwt client.
	post := x.form(subject, map[string][]string{"client_id": {x.app.ClientID}, "client_secret": {x.app.ClientSecret}})
	wantExchange(t, s.Form("/v1/oauth/token", "", "", post))
	wantExchangeError(t, s.Form("/v1/oauth/token", x.app.ClientID, "wrong", x.form(subject, nil)), http.StatusUnauthorized, "invalid_client")
	post.Set("client_secret", "wrong")
	wantExchangeError(t, s.Form("/v1/oauth/token", "", "", post), http.StatusUnauthorized, "invalid_client")

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}}}
	var keyApp app
	want(t, s.Do(http.MethodPost, "/v1/platform/apps", x.admin, map[string]any{"name": "key-app", "token_endpoint_auth_method": "private_key_jwt",
		"jwks": jwks, "requested_scopes": []string{"credentials:use"}}), http.StatusCreated).JSON(t, &keyApp)
	decide(t, s, x.admin, keyApp.ID, "credentials:use", "approve")
	want(t, s.Do(http.MethodPatch, "/v1/credentials/"+x.cred.ID, x.admin, map[string]any{"grants": []string{x.app.ID, keyApp.ID}}), http.StatusOK)
	assertion := func() string {
		sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := json.Marshal(map[string]any{"iss": keyApp.ClientID, "sub": keyApp.ClientID, "aud": s.URL + "/v1/oauth/token",
			"exp": time.Now().Add(time.Minute).Unix(), "iat": time.Now().Unix(), "jti": rand.Text()})
		jws, err := sig.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		return must(jws.CompactSerialize())
	}
	byKey := func(f url.Values) url.Values {
		f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		f.Set("client_assertion", assertion())
		return f
	}
	var own exchangeAnswer
	want(t, s.Form("/v1/oauth/token", "", "", byKey(url.Values{"grant_type": {"client_credentials"}})), http.StatusOK).JSON(t, &own)
	wantExchange(t, s.Form("/v1/oauth/token", "", "", byKey(x.form(own.AccessToken, nil))))
	// The key app's token is not the integrator's to exchange, nor the
	// reverse.
	wantExchangeError(t, s.Form("/v1/oauth/token", "", "", byKey(x.form(subject, nil))), http.StatusBadRequest, "invalid_request")

	// Discovery advertises the grant.
	var md struct {
		Grants []string `json:"grant_types_supported"`
	}
	want(t, s.Do(http.MethodGet, "/.well-known/oauth-authorization-server", "", nil), http.StatusOK).JSON(t, &md)
	if !slices.Contains(md.Grants, teGrant) {
		t.Fatalf("grant_types_supported %v", md.Grants)
	}
}

// TestHTTPTokenExchangeSubjectAndClient: what the subject token and the
// client must be. A revoked, expired, ID or refresh token as the
// subject is invalid_request (RFC 8693 §2.2.2: an invalid subject_token
// "MUST" be); a client without credentials:use is unauthorized_client
// whatever subject it sends; a public client (no client authentication)
// is unauthorized_client: the provider's token goes only to a client
// that proves who it is; a deactivated app is invalid_client.
func TestHTTPTokenExchangeSubjectAndClient(t *testing.T) {
	x := newExchangeSetup(t)
	s := x.s
	ex := func(a app, subject string) servertest.Response {
		return s.Form("/v1/oauth/token", a.ClientID, a.ClientSecret, x.form(subject, nil))
	}

	// Revoked.
	revoked := s.TokenFor(x.app.ClientID, x.app.ClientSecret)
	wantExchange(t, ex(x.app, revoked))
	want(t, s.Form("/v1/oauth/revoke", x.app.ClientID, x.app.ClientSecret, url.Values{"token": {revoked}}), http.StatusOK)
	wantExchangeError(t, ex(x.app, revoked), http.StatusBadRequest, "invalid_request")

	// Expired: a user token of a second to live, once it has expired.
	user := createUser(t, s, x.admin, "ada@example.com")
	app, err := projections.AppByClientID(t.Context(), s.Server.Store(), x.app.ClientID)
	if err != nil {
		t.Fatal(err)
	}
	short, _, err := s.Server.Comps.OAuth.MintUserToken(t.Context(), app, user.ID, "authorization_code", []string{"credentials:use"}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var intro struct {
			Active bool `json:"active"`
		}
		want(t, s.Form("/v1/oauth/introspect", s.AdminID, s.AdminSecret, url.Values{"token": {short}}), http.StatusOK).JSON(t, &intro)
		if !intro.Active {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a token of a second to live still active after 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	wantExchangeError(t, ex(x.app, short), http.StatusBadRequest, "invalid_request")

	// An ID token and a refresh token of a code flow app holding
	// credentials:use, as the subject of that app's exchange.
	rp := newCodeApp(t, s, "Portal", "http://127.0.0.1:9/callback", "client_secret_basic",
		map[string]any{"requested_scopes": []string{"cases:read", "credentials:use"}})
	decide(t, s, x.admin, rp.ID, "credentials:use", "approve")
	want(t, s.Do(http.MethodPatch, "/v1/credentials/"+x.cred.ID, x.admin, map[string]any{"grants": []string{x.app.ID, rp.ID}}), http.StatusOK)
	newUser(t, s, "grace@example.com")
	rp.cfg.Scopes = append(rp.cfg.Scopes, "credentials:use")
	verifier := oauth2.GenerateVerifier()
	q := newBrowser(t).signIn(s, rp.cfg.AuthCodeURL("state-0123456789", oauth2.S256ChallengeOption(verifier)), "grace@example.com", true)
	tok, err := rp.cfg.Exchange(context.WithValue(t.Context(), oauth2.HTTPClient, http.DefaultClient), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	if idToken == "" || tok.RefreshToken == "" {
		t.Fatalf("code flow tokens: id_token %q refresh %q", idToken, tok.RefreshToken)
	}
	wantExchange(t, ex(rp.app, tok.AccessToken))
	wantExchangeError(t, ex(rp.app, idToken), http.StatusBadRequest, "invalid_request")
	wantExchangeError(t, ex(rp.app, tok.RefreshToken), http.StatusBadRequest, "invalid_request")

	// A client without credentials:use: unauthorized_client, with its own
	// token, another's, or none that is a token.
	noUse := createApp(t, s, x.admin, map[string]any{"name": "no-use"})
	for _, subject := range []string{s.TokenFor(noUse.ClientID, noUse.ClientSecret), s.TokenFor(x.app.ClientID, x.app.ClientSecret), "not-a-token"} {
		wantExchangeError(t, ex(noUse, subject), http.StatusBadRequest, "unauthorized_client")
	}

	// A public client holding credentials:use, with its user's token.
	pub := newCodeApp(t, s, "SPA", "http://127.0.0.1:9/spa", "none",
		map[string]any{"requested_scopes": []string{"cases:read", "credentials:use"}})
	decide(t, s, x.admin, pub.ID, "credentials:use", "approve")
	want(t, s.Do(http.MethodPatch, "/v1/credentials/"+x.cred.ID, x.admin, map[string]any{"grants": []string{x.app.ID, rp.ID, pub.ID}}), http.StatusOK)
	pubTok := s.UserToken(pub.ClientID, user.ID, "credentials:use")
	f := x.form(pubTok, map[string][]string{"client_id": {pub.ClientID}})
	wantExchangeError(t, s.Form("/v1/oauth/token", "", "", f), http.StatusBadRequest, "unauthorized_client")

	// A deactivated app.
	subject := s.TokenFor(x.app.ClientID, x.app.ClientSecret)
	want(t, s.Do(http.MethodPatch, "/v1/platform/apps/"+x.app.ID, x.admin, map[string]any{"active": false}), http.StatusOK)
	wantExchangeError(t, ex(x.app, subject), http.StatusUnauthorized, "invalid_client")
}

// wantDescriptionChars fails the test unless d is in the characters RFC
// 6749 §5.2 allows an error_description: %x20-21 / %x23-5B / %x5D-7E.
func wantDescriptionChars(t *testing.T, d string) {
	t.Helper()
	for i := 0; i < len(d); i++ {
		if b := d[i]; b < 0x20 || b > 0x7e || b == '"' || b == '\\' {
			t.Fatalf("error_description %q holds %q, outside RFC 6749 §5.2's set", d, b)
		}
	}
}

// TestHTTPOAuthErrorDescriptionChars: the token endpoint's descriptions
// that cite an RFC section with '§' (a Basic client_id that is not
// form-encoded, at any grant) are written in the characters RFC 6749
// §5.2 allows.
func TestHTTPOAuthErrorDescriptionChars(t *testing.T) {
	s := servertest.New(t)
	for _, c := range []struct {
		user string
		form url.Values
		code string
	}{
		{"%zz", url.Values{"grant_type": {"client_credentials"}}, "invalid_request"},
		{"%zz", url.Values{"grant_type": {teGrant}, "subject_token": {"x"}, "subject_token_type": {teAccess}, "resource": {"crm"}}, "invalid_request"},
	} {
		var a exchangeAnswer
		want(t, s.Form("/v1/oauth/token", c.user, s.AdminSecret, c.form), http.StatusBadRequest).JSON(t, &a)
		if a.Error != c.code {
			t.Fatalf("%v: %+v", c.form, a)
		}
		wantDescriptionChars(t, a.ErrorDescription)
	}
}
