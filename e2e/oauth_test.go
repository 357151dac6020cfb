package e2e

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// wantToken is what an access token must say.
type wantToken struct {
	clientID string
	scopes   []string // nil: no scope claim
	ttl      time.Duration
}

// checkAccessToken verifies raw with go-jose against the JWKS and checks
// its header and claims (RFC 9068 §2), minted between from and to.
func checkAccessToken(t *testing.T, a *api, raw string, want wantToken, from, to time.Time) accessClaims {
	t.Helper()
	h, c := a.verifyJOSE(raw)
	if h.Algorithm != string(jose.ES256) || h.KeyID == "" || h.ExtraHeaders[jose.HeaderType] != "at+jwt" {
		t.Errorf("header alg %q kid %q typ %v, want ES256, a kid, at+jwt", h.Algorithm, h.KeyID, h.ExtraHeaders[jose.HeaderType])
	}
	if c.Issuer != a.s.URL || c.Subject != want.clientID || c.ClientID != want.clientID || c.Tenant != "default" {
		t.Errorf("iss %q sub %q client_id %q tid %q, want %q %q %q default", c.Issuer, c.Subject, c.ClientID, c.Tenant, a.s.URL, want.clientID, want.clientID)
	}
	if !slices.Contains([]string(c.Audience), a.s.URL) {
		t.Errorf("aud = %v, want the issuer (the platform API is the resource server)", c.Audience)
	}
	if len(c.JTI) < 16 {
		t.Errorf("jti = %q, want a random id", c.JTI)
	}
	if c.IssuedAt == nil || c.Expiry == nil {
		t.Fatalf("iat %v exp %v: both are required", c.IssuedAt, c.Expiry)
	}
	if iat := time.Unix(*c.IssuedAt, 0); iat.Before(from.Truncate(time.Second)) || iat.After(to) {
		t.Errorf("iat %s is not within the request (%s to %s)", iat, from, to)
	}
	if got := time.Duration(*c.Expiry-*c.IssuedAt) * time.Second; got != want.ttl {
		t.Errorf("exp - iat = %s, want %s", got, want.ttl)
	}
	switch {
	case want.scopes == nil && c.Scope != nil && *c.Scope != "":
		t.Errorf("scope = %q, want none", *c.Scope)
	case want.scopes != nil && (c.Scope == nil || !sameSet(strings.Fields(*c.Scope), want.scopes)):
		t.Errorf("scope = %v, want %v", c.Scope, want.scopes)
	}
	return c
}

func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(slices.Compact(a), slices.Compact(b)) && len(a) == len(b)
}

// verifyOIDC verifies raw with go-oidc twice: through the provider found
// by OIDC discovery on the issuer, and through a RemoteKeySet on the
// JWKS URL, as a resource server using go-oidc would.
func verifyOIDC(t *testing.T, a *api, raw string) *oidc.IDToken {
	t.Helper()
	c := oidc.ClientContext(ctx(t), a.hc)
	p, err := oidc.NewProvider(c, a.s.URL)
	if err != nil {
		t.Fatalf("oidc.NewProvider(%s): %v", a.s.URL, err)
	}
	cfg := &oidc.Config{SkipClientIDCheck: true, SupportedSigningAlgs: []string{oidc.ES256}}
	tok, err := p.Verifier(cfg).Verify(c, raw)
	if err != nil {
		t.Fatalf("go-oidc provider verifier: %v", err)
	}
	keys := oidc.NewRemoteKeySet(c, a.s.URL+"/.well-known/jwks.json")
	if _, err := oidc.NewVerifier(a.s.URL, keys, cfg).Verify(c, raw); err != nil {
		t.Fatalf("go-oidc RemoteKeySet verifier: %v", err)
	}
	if _, err := keys.VerifySignature(c, tamper(raw)); err == nil {
		t.Fatal("go-oidc accepted a token with a changed signature")
	}
	return tok
}

// tamper changes one character in the middle of raw's signature.
func tamper(raw string) string {
	i := strings.LastIndexByte(raw, '.') + 10
	c := byte('A')
	if raw[i] == 'A' {
		c = 'B'
	}
	return raw[:i] + string(c) + raw[i+1:]
}

// TestClientCredentials: an app of each client authentication method gets
// an RFC 9068 JWT through golang.org/x/oauth2's clientcredentials, which
// go-jose (JWKS over HTTP) and go-oidc (discovery, RemoteKeySet) verify.
func TestClientCredentials(t *testing.T) {
	t.Parallel()
	s := shared(t)
	adminToken := adminAPI(t, s).token
	for _, tc := range []struct {
		method string
		style  oauth2.AuthStyle
	}{
		{"client_secret_basic", oauth2.AuthStyleInHeader},
		{"client_secret_post", oauth2.AuthStyleInParams},
	} {
		t.Run(tc.method, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t, s, adminToken)
			app := a.createApp(map[string]any{"name": uniqueName(t, "app"), "token_endpoint_auth_method": tc.method, "access_token_ttl_seconds": 600})
			if app.TokenEndpointAuthMethod != tc.method || app.AccessTokenTTLSeconds != 600 {
				t.Fatalf("app = %+v", app)
			}
			from := time.Now()
			tok := a.mint(credentials{app.ClientID, app.ClientSecret, tc.style})
			to := time.Now()
			if tok.TokenType != "Bearer" || tok.Expiry.Before(from.Add(590*time.Second)) || tok.Expiry.After(to.Add(601*time.Second)) {
				t.Errorf("token_type %q expiry %s: want Bearer, in 600s", tok.TokenType, tok.Expiry)
			}
			c := checkAccessToken(t, a, tok.AccessToken, wantToken{clientID: app.ClientID, ttl: 600 * time.Second}, from, to)
			id := verifyOIDC(t, a, tok.AccessToken)
			if id.Issuer != s.URL || id.Subject != app.ClientID || !id.Expiry.Equal(time.Unix(*c.Expiry, 0)) {
				t.Errorf("go-oidc sees iss %q sub %q exp %s", id.Issuer, id.Subject, id.Expiry)
			}
			again := a.mint(credentials{app.ClientID, app.ClientSecret, tc.style})
			if _, c2 := a.verifyJOSE(again.AccessToken); c2.JTI == c.JTI {
				t.Errorf("two tokens share jti %s", c.JTI)
			}
		})
	}
	t.Run("bootstrap admin through discovery", func(t *testing.T) {
		t.Parallel()
		a := newAPI(t, s, "")
		c := oidc.ClientContext(oauthContext(t, a.hc), a.hc)
		p, err := oidc.NewProvider(c, s.URL)
		if err != nil {
			t.Fatal(err)
		}
		cfg := clientcredentials.Config{ClientID: adminID, ClientSecret: adminSecret, TokenURL: p.Endpoint().TokenURL,
			Scopes: []string{"platform:apps:read", "platform:audit:read"}, AuthStyle: oauth2.AuthStyleInHeader}
		from := time.Now()
		tok, err := cfg.Token(c)
		if err != nil {
			t.Fatal(err)
		}
		to := time.Now()
		if got := tok.Extra("scope"); got != "platform:apps:read platform:audit:read" && got != "platform:audit:read platform:apps:read" {
			t.Errorf("scope of the token answer = %v", got)
		}
		checkAccessToken(t, a, tok.AccessToken, wantToken{adminID, cfg.Scopes, time.Hour}, from, to)
		verifyOIDC(t, a, tok.AccessToken)
	})
}

// TestTokenAnswerHeaders: RFC 6749 §5.1 — the token answer is JSON and
// must not be cached.
func TestTokenAnswerHeaders(t *testing.T) {
	t.Parallel()
	a := newAPI(t, shared(t), "")
	r := a.form("/v1/oauth/token", url.Values{"grant_type": {"client_credentials"}}, adminID, adminSecret)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("token = %s (%s)", r, r.Header.Get("Content-Type"))
	}
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
}

// TestScopes: granted = requested when every requested scope is approved;
// no scope parameter = every approved scope; a scope that is not approved
// (pending, or not in the catalog) is invalid_scope.
func TestScopes(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	grants := []struct {
		name      string
		requested []string
		granted   []string
	}{
		{"one", []string{"platform:apps:read"}, []string{"platform:apps:read"}},
		{"two", []string{"system:keys:write", "platform:apps:write"}, []string{"system:keys:write", "platform:apps:write"}},
		{"repeated", []string{"webhooks:read", "webhooks:read"}, []string{"webhooks:read"}},
		{"none asked: every approved", nil, builtinScopes},
	}
	for _, g := range grants {
		t.Run("admin "+g.name, func(t *testing.T) {
			a := a.in(t)
			from := time.Now()
			tok := a.mint(adminCreds(), g.requested...)
			if got := strings.Fields(tok.Extra("scope").(string)); !sameSet(got, g.granted) {
				t.Errorf("answer scope = %v, want %v", got, g.granted)
			}
			checkAccessToken(t, a, tok.AccessToken, wantToken{adminID, g.granted, time.Hour}, from, time.Now())
		})
	}
	invalid := []struct {
		name  string
		creds credentials
		scope []string
	}{
		{"admin asks for a scope not in the catalog", adminCreds(), []string{"cases:read"}},
		{"admin asks for an approved and an unknown scope", adminCreds(), []string{"platform:apps:read", "nope"}},
	}
	pending := a.createApp(map[string]any{"name": uniqueName(t, "pending"), "requested_scopes": []string{"platform:apps:read", "webhooks:read"}})
	if len(pending.Scopes) != 2 || pending.Scopes[0].Status != "pending" || pending.Scopes[1].Status != "pending" {
		t.Fatalf("built-in scopes of a new app are not pending: %+v", pending.Scopes)
	}
	invalid = append(invalid,
		struct {
			name  string
			creds credentials
			scope []string
		}{"app asks for its pending scope", appCreds(pending), []string{"platform:apps:read"}},
		struct {
			name  string
			creds credentials
			scope []string
		}{"app asks for a scope it never requested", appCreds(pending), []string{"events:publish"}},
	)
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.in(t).tryMint(tc.creds, tc.scope...)
			wantTokenError(t, err, http.StatusBadRequest, "invalid_scope")
		})
	}
	t.Run("app with only pending scopes", func(t *testing.T) {
		a := a.in(t)
		from := time.Now()
		tok := a.mint(appCreds(pending))
		checkAccessToken(t, a, tok.AccessToken, wantToken{clientID: pending.ClientID, ttl: time.Hour}, from, time.Now())
		r := a.as(tok.AccessToken).call(http.MethodGet, "/v1/platform/apps", nil)
		wantProblem(t, r, http.StatusForbidden, "insufficient_scope")
	})
}

// TestTokenEndpointErrors: each failure of the token endpoint is its
// RFC 6749 §5.2 error.
func TestTokenEndpointErrors(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	basic := a.createApp(map[string]any{"name": uniqueName(t, "basic")})
	post := a.createApp(map[string]any{"name": uniqueName(t, "post"), "token_endpoint_auth_method": "client_secret_post"})
	code := a.createApp(map[string]any{"name": uniqueName(t, "code"), "grant_types": []string{"authorization_code"},
		"redirect_uris": []string{"https://app.example.com/cb"}})
	for _, tc := range []struct {
		name   string
		creds  credentials
		status int
		code   string
	}{
		{"bad secret", credentials{adminID, adminSecret + "x", oauth2.AuthStyleInHeader}, 401, "invalid_client"},
		{"bad secret in the body", credentials{post.ClientID, post.ClientSecret + "x", oauth2.AuthStyleInParams}, 401, "invalid_client"},
		{"another app's secret", credentials{basic.ClientID, post.ClientSecret, oauth2.AuthStyleInHeader}, 401, "invalid_client"},
		{"unknown client", credentials{"cl_doesnotexist", basic.ClientSecret, oauth2.AuthStyleInHeader}, 401, "invalid_client"},
		{"empty secret", credentials{basic.ClientID, "", oauth2.AuthStyleInHeader}, 401, "invalid_client"},
		{"app without the grant", appCreds(code), 400, "unauthorized_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.in(t).tryMint(tc.creds)
			wantTokenError(t, err, tc.status, tc.code)
		})
	}
	for _, tc := range []struct {
		name string
		form url.Values
		code string
	}{
		{"password grant", url.Values{"grant_type": {"password"}, "username": {"u"}, "password": {"p"}}, "unsupported_grant_type"},
		{"device grant", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {"x"}}, "unsupported_grant_type"},
		{"no grant_type", url.Values{"scope": {"platform:apps:read"}}, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantOAuthError(t, a.in(t).form("/v1/oauth/token", tc.form, adminID, adminSecret), http.StatusBadRequest, tc.code)
		})
	}
	t.Run("no client authentication", func(t *testing.T) {
		r := a.in(t).as("").form("/v1/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "", "")
		wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("bearer token instead of client authentication", func(t *testing.T) {
		r := a.in(t).form("/v1/oauth/token", url.Values{"grant_type": {"client_credentials"}}, "", "")
		wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("invalid_client challenge", func(t *testing.T) {
		r := a.in(t).form("/v1/oauth/token", url.Values{"grant_type": {"client_credentials"}}, adminID, "wrong")
		wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("401 for Basic credentials without a Basic challenge (RFC 6749 §5.2): %q", r.Header.Get("WWW-Authenticate"))
		}
	})
}

// TestOAuthBodyLimit: a form above 1 MiB is 413 on every OAuth endpoint,
// whether the client declared its length or streamed it chunked.
func TestOAuthBodyLimit(t *testing.T) {
	t.Parallel()
	a := newAPI(t, shared(t), "")
	big := url.Values{"grant_type": {"client_credentials"}, "token": {"x"}, "pad": {strings.Repeat("x", 1<<20)}}.Encode()
	for _, path := range []string{"/v1/oauth/token", "/v1/oauth/introspect", "/v1/oauth/revoke"} {
		for _, chunked := range []bool{false, true} {
			var body io.Reader = strings.NewReader(big)
			if chunked {
				body = io.MultiReader(body) // no length known: sent chunked
			}
			req, err := http.NewRequestWithContext(ctx(t), http.MethodPost, a.s.URL+path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(adminID), url.QueryEscape(adminSecret))
			if r := a.send(req); r.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("POST %s (chunked %v) = %s, want 413", path, chunked, r)
			}
		}
	}
}
