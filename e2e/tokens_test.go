package e2e

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// caller authenticates a request to introspection or revocation.
type caller struct {
	name string
	// id, secret: HTTP Basic when basic, else in the form; bearer: a token.
	id, secret, bearer string
	basic              bool
}

// post sends form to path as c.
func (c caller) post(a *api, path string, form url.Values) reply {
	a.t.Helper()
	vals := url.Values{}
	for k, v := range form {
		vals[k] = v
	}
	switch {
	case c.bearer != "":
		return a.as(c.bearer).form(path, vals, "", "")
	case c.basic:
		return a.as("").form(path, vals, c.id, c.secret)
	case c.id != "":
		vals.Set("client_id", c.id)
		vals.Set("client_secret", c.secret)
	}
	return a.as("").form(path, vals, "", "")
}

func basicCaller(app appView) caller {
	return caller{name: "basic " + app.Name, id: app.ClientID, secret: app.ClientSecret, basic: true}
}

// introspected is an RFC 7662 §2.2 answer.
type introspected struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope"`
	ClientID  string   `json:"client_id"`
	Subject   string   `json:"sub"`
	Audience  []string `json:"aud"`
	Issuer    string   `json:"iss"`
	ExpiresAt int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	JTI       string   `json:"jti"`
	Tenant    string   `json:"tid"`
	TokenType string   `json:"token_type"`
}

// TestIntrospection (RFC 7662): every way a client may authenticate, the
// members of an active token's answer, and {"active": false} for tokens
// that are not active.
func TestIntrospection(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	basicApp := a.createApp(map[string]any{"name": uniqueName(t, "basic")})
	postApp := a.createApp(map[string]any{"name": uniqueName(t, "post"), "token_endpoint_auth_method": "client_secret_post"})
	adminTok := a.mint(adminCreds(), "platform:apps:read", "webhooks:read").AccessToken
	appTok := a.mint(appCreds(basicApp)).AccessToken
	_, adminClaims := a.verifyJOSE(adminTok)
	h, appClaims := a.verifyJOSE(appTok)

	callers := []caller{
		{name: "client_secret_basic (admin)", id: adminID, secret: adminSecret, basic: true},
		basicCaller(basicApp),
		{name: "client_secret_post", id: postApp.ClientID, secret: postApp.ClientSecret},
		{name: "bearer token of an app without scopes", bearer: a.mint(appCreds(postApp)).AccessToken},
		{name: "bearer token of the admin", bearer: a.token},
	}
	inactive := map[string]string{
		"garbage":           "garbage",
		"changed signature": tamper(adminTok),
		"changed claims":    withClaims(t, adminTok, map[string]any{"scope": "system:keys:write"}),
		"foreign key":       foreignToken(t, s.URL, h.KeyID, "ES256"),
		"unsigned":          unsignedToken(t, s.URL, h.KeyID),
	}
	for _, c := range callers {
		t.Run(c.name, func(t *testing.T) {
			a := a.in(t)
			for _, tc := range []struct {
				token  string
				claims accessClaims
			}{{adminTok, adminClaims}, {appTok, appClaims}} {
				r := c.post(a, "/v1/oauth/introspect", url.Values{"token": {tc.token}, "token_type_hint": {"access_token"}})
				if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
					t.Fatalf("introspect = %s", r)
				}
				var got introspected
				r.decode(t, &got)
				want := introspected{Active: true, ClientID: tc.claims.ClientID, Subject: tc.claims.Subject, Audience: tc.claims.Audience,
					Issuer: s.URL, ExpiresAt: *tc.claims.Expiry, IssuedAt: *tc.claims.IssuedAt, JTI: tc.claims.JTI, Tenant: "default"}
				if tc.claims.Scope != nil {
					want.Scope = *tc.claims.Scope
				}
				want.TokenType = "Bearer" // RFC 6750 §6.1.1's spelling
				if !sameJSON(t, mustJSON(t, got), want) {
					t.Errorf("introspection of %s:\n got %+v\nwant %+v", tc.claims.ClientID, got, want)
				}
			}
			for name, tok := range inactive {
				r := c.post(a, "/v1/oauth/introspect", url.Values{"token": {tok}})
				if r.Status != http.StatusOK || strings.TrimSpace(string(r.Body)) != `{"active":false}` {
					t.Errorf("introspect %s = %s, want 200 {\"active\":false} alone", name, r)
				}
			}
			r := c.post(a, "/v1/oauth/introspect", url.Values{})
			wantOAuthError(t, r, http.StatusBadRequest, "invalid_request")
		})
	}
	for _, c := range []caller{
		{name: "nobody"},
		{name: "bad secret", id: adminID, secret: "wrong", basic: true},
		{name: "bad secret in the form", id: postApp.ClientID, secret: "wrong"},
		{name: "unknown client", id: "cl_nobody", secret: "x", basic: true},
		{name: "garbage bearer", bearer: "garbage"},
		{name: "forged bearer", bearer: foreignToken(t, s.URL, h.KeyID, "ES256")},
	} {
		t.Run("unauthenticated: "+c.name, func(t *testing.T) {
			r := c.post(a.in(t), "/v1/oauth/introspect", url.Values{"token": {adminTok}})
			wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		})
	}
}

// TestIntrospectExpiredToken: a token is active until its exp and not a
// second longer, for introspection, the platform API and go-oidc.
func TestIntrospectExpiredToken(t *testing.T) {
	if testing.Short() {
		t.Skip("waits a minute for a token to expire")
	}
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	app := a.createApp(map[string]any{"name": uniqueName(t, "short"), "access_token_ttl_seconds": 60})
	tok := a.mint(appCreds(app)).AccessToken
	_, c := a.verifyJOSE(tok)
	exp := time.Unix(*c.Expiry, 0)
	if !a.active(tok) {
		t.Fatal("a fresh token is not active")
	}
	wantProblem(t, a.as(tok).call(http.MethodGet, "/v1/platform/apps", nil), http.StatusForbidden, "insufficient_scope")
	for a.active(tok) {
		if time.Now().After(exp.Add(3 * time.Second)) {
			t.Fatalf("still active at %s, 3s after its exp %s", time.Now(), exp)
		}
		time.Sleep(200 * time.Millisecond) // poll interval
	}
	if now := time.Now(); now.Before(exp.Add(-time.Second)) {
		t.Fatalf("inactive at %s, before its exp %s", now, exp)
	}
	wantProblem(t, a.as(tok).call(http.MethodGet, "/v1/platform/apps", nil), http.StatusUnauthorized, "unauthorized")
	oc := oidc.ClientContext(ctx(t), a.hc)
	keys := oidc.NewRemoteKeySet(oc, s.URL+"/.well-known/jwks.json")
	_, err := oidc.NewVerifier(s.URL, keys, &oidc.Config{SkipClientIDCheck: true, SupportedSigningAlgs: []string{oidc.ES256}}).Verify(oc, tok)
	var expired *oidc.TokenExpiredError
	if !errors.As(err, &expired) {
		t.Fatalf("go-oidc: %v, want TokenExpiredError", err)
	}
	// As a caller, the expired token authenticates nothing either.
	r := caller{bearer: tok}.post(a, "/v1/oauth/introspect", url.Values{"token": {a.token}})
	wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
}

// TestRevocation (RFC 7009): a client revokes its own tokens, by either
// authentication; the token is dead at once everywhere; revoking garbage
// is 200; another client's token is refused and stays active.
func TestRevocation(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	owner := a.createApp(map[string]any{"name": uniqueName(t, "owner")})
	other := a.createApp(map[string]any{"name": uniqueName(t, "other"), "token_endpoint_auth_method": "client_secret_post"})
	tok1, tok2 := a.mint(appCreds(owner)).AccessToken, a.mint(appCreds(owner)).AccessToken
	otherCaller := caller{id: other.ClientID, secret: other.ClientSecret}

	t.Run("another client's token", func(t *testing.T) {
		a := a.in(t)
		for _, c := range []caller{otherCaller, {id: adminID, secret: adminSecret, basic: true}, {bearer: a.token}} {
			r := c.post(a, "/v1/oauth/revoke", url.Values{"token": {tok1}})
			wantOAuthError(t, r, http.StatusBadRequest, "unauthorized_client")
		}
		if !a.active(tok1) {
			t.Fatal("a refused revocation made the token inactive")
		}
	})
	t.Run("own token", func(t *testing.T) {
		a := a.in(t)
		r := basicCaller(owner).post(a, "/v1/oauth/revoke", url.Values{"token": {tok1}, "token_type_hint": {"access_token"}})
		if r.Status != http.StatusOK {
			t.Fatalf("revoke = %s", r)
		}
		if a.active(tok1) {
			t.Fatal("revoked token still active")
		}
		if !a.active(tok2) {
			t.Fatal("revoking one token made another of the app inactive")
		}
		r = caller{bearer: tok1}.post(a, "/v1/oauth/introspect", url.Values{"token": {tok2}})
		wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		wantProblem(t, a.as(tok1).call(http.MethodGet, "/v1/platform/apps", nil), http.StatusUnauthorized, "unauthorized")
		if r := basicCaller(owner).post(a, "/v1/oauth/revoke", url.Values{"token": {tok1}}); r.Status != http.StatusOK {
			t.Fatalf("revoking twice = %s", r)
		}
		a.mint(appCreds(owner)) // the app itself is fine
	})
	t.Run("own token by bearer, then the platform API refuses it", func(t *testing.T) {
		a := a.in(t)
		adm := a.mint(adminCreds()).AccessToken
		if r := a.as(adm).call(http.MethodGet, "/v1/platform/apps", nil); r.Status != http.StatusOK {
			t.Fatalf("list = %s", r)
		}
		if r := (caller{bearer: adm}).post(a, "/v1/oauth/revoke", url.Values{"token": {adm}}); r.Status != http.StatusOK {
			t.Fatalf("revoke = %s", r)
		}
		wantProblem(t, a.as(adm).call(http.MethodGet, "/v1/platform/apps", nil), http.StatusUnauthorized, "unauthorized")
		if a.active(adm) {
			t.Fatal("revoked admin token still active")
		}
	})
	t.Run("garbage is 200", func(t *testing.T) {
		a := a.in(t)
		for _, tok := range []string{"garbage", tamper(tok2), "a.b.c"} {
			for _, hint := range []string{"", "access_token", "refresh_token"} {
				r := otherCaller.post(a, "/v1/oauth/revoke", url.Values{"token": {tok}, "token_type_hint": {hint}})
				if r.Status != http.StatusOK {
					t.Errorf("revoke %q (hint %q) = %s", tok, hint, r)
				}
			}
		}
		if !a.active(tok2) {
			t.Fatal("revoking a changed copy killed the real token")
		}
	})
	t.Run("errors", func(t *testing.T) {
		a := a.in(t)
		wantOAuthError(t, caller{}.post(a, "/v1/oauth/revoke", url.Values{"token": {tok2}}), http.StatusUnauthorized, "invalid_client")
		wantOAuthError(t, caller{id: owner.ClientID, secret: "wrong", basic: true}.post(a, "/v1/oauth/revoke", url.Values{"token": {tok2}}), http.StatusUnauthorized, "invalid_client")
		wantOAuthError(t, basicCaller(owner).post(a, "/v1/oauth/revoke", url.Values{}), http.StatusBadRequest, "invalid_request")
		if !a.active(tok2) {
			t.Fatal("a failed revocation killed the token")
		}
	})
}

// TestDeactivatedAppTokensDie: PATCH active:false kills the app's tokens
// at once (introspection, platform API, token endpoint); active:true
// lets it mint again.
func TestDeactivatedAppTokensDie(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	app := a.createApp(map[string]any{"name": uniqueName(t, "app")})
	tok := a.mint(appCreds(app)).AccessToken
	wantAlive(t, a, app, tok)

	r := a.call(http.MethodPatch, "/v1/platform/apps/"+app.ID, map[string]any{"active": false})
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"active":false`) {
		t.Fatalf("deactivate = %s", r)
	}
	wantDead(t, a, app, tok)

	if r := a.call(http.MethodPatch, "/v1/platform/apps/"+app.ID, map[string]any{"active": true}); r.Status != http.StatusOK {
		t.Fatalf("reactivate = %s", r)
	}
	wantAlive(t, a, app, a.mint(appCreds(app)).AccessToken)
}

// TestDeletedAppTokensDie: DELETE kills the app's tokens and credentials
// at once.
func TestDeletedAppTokensDie(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	app := a.createApp(map[string]any{"name": uniqueName(t, "app"), "token_endpoint_auth_method": "client_secret_post"})
	tok := a.mint(appCreds(app)).AccessToken
	wantAlive(t, a, app, tok)
	if r := a.call(http.MethodDelete, "/v1/platform/apps/"+app.ID, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete = %s", r)
	}
	wantDead(t, a, app, tok)
}

// wantAlive: tok introspects active, authenticates to the platform API
// (which refuses it for lack of scope) and app can mint.
func wantAlive(t *testing.T, a *api, app appView, tok string) {
	t.Helper()
	if !a.active(tok) {
		t.Fatal("token not active")
	}
	wantProblem(t, a.as(tok).call(http.MethodGet, "/v1/platform/apps", nil), http.StatusForbidden, "insufficient_scope")
	if _, err := a.tryMint(appCreds(app)); err != nil {
		t.Fatalf("mint: %v", err)
	}
}

// wantDead: tok is inactive for introspection, 401 on the platform API
// and as an introspection caller, and app cannot mint or revoke.
func wantDead(t *testing.T, a *api, app appView, tok string) {
	t.Helper()
	if a.active(tok) {
		t.Error("introspection: still active")
	}
	wantProblem(t, a.as(tok).call(http.MethodGet, "/v1/platform/apps", nil), http.StatusUnauthorized, "unauthorized")
	wantOAuthError(t, caller{bearer: tok}.post(a, "/v1/oauth/introspect", url.Values{"token": {tok}}), http.StatusUnauthorized, "invalid_client")
	_, err := a.tryMint(appCreds(app))
	wantTokenError(t, err, http.StatusUnauthorized, "invalid_client")
	c := caller{id: app.ClientID, secret: app.ClientSecret, basic: app.TokenEndpointAuthMethod == "client_secret_basic"}
	wantOAuthError(t, c.post(a, "/v1/oauth/revoke", url.Values{"token": {tok}}), http.StatusUnauthorized, "invalid_client")
}
