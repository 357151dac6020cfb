package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
)

// TestPlatformAuth: the platform API admits only active tokens of this
// server carrying the endpoint's scope; everything else is a 401
// problem with a Bearer challenge, or 403 insufficient_scope.
func TestPlatformAuth(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	readOnly := a.mint(adminCreds(), "platform:apps:read").AccessToken
	h, _ := a.verifyJOSE(a.token)
	for _, tc := range []struct {
		name, authorization string
	}{
		{"no token", ""},
		{"empty bearer", "Bearer "},
		{"basic credentials", "Basic " + base64.StdEncoding.EncodeToString([]byte(adminID+":"+adminSecret))},
		{"garbage", "Bearer not-a-token"},
		{"three garbage parts", "Bearer abc.def.ghi"},
		{"changed signature", "Bearer " + tamper(a.token)},
		{"changed claims", "Bearer " + withClaims(t, a.token, map[string]any{"scope": "platform:apps:read platform:apps:write", "client_id": "someone"})},
		{"signed by a foreign key with the server's kid", "Bearer " + foreignToken(t, s.URL, h.KeyID, jose.ES256)},
		{"alg none", "Bearer " + unsignedToken(t, s.URL, h.KeyID)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := a.in(t)
			hdr := []string{}
			if tc.authorization != "" {
				hdr = []string{"Authorization", tc.authorization}
			}
			r := a.as("").call(http.MethodGet, "/v1/platform/apps", nil, hdr...)
			wantProblem(t, r, http.StatusUnauthorized, "unauthorized")
			if ch := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer") {
				t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", ch)
			}
		})
	}
	for _, tc := range []struct {
		name, method, path, scope string
	}{
		{"create an app", http.MethodPost, "/v1/platform/apps", "platform:apps:write"},
		{"rotate the keys", http.MethodPost, "/v1/platform/keys/rotate", "system:keys:write"},
		{"delete an app", http.MethodDelete, "/v1/platform/apps/app_x", "platform:apps:write"},
	} {
		t.Run("read-only token may not "+tc.name, func(t *testing.T) {
			a := a.in(t).as(readOnly)
			var body any
			if tc.method == http.MethodPost {
				body = map[string]any{"name": uniqueName(t, "x")}
			}
			r := a.call(tc.method, tc.path, body)
			wantProblem(t, r, http.StatusForbidden, "insufficient_scope")
			if ch := r.Header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, tc.scope) {
				t.Errorf("WWW-Authenticate = %q, want insufficient_scope naming %s (RFC 6750 §3.1)", ch, tc.scope)
			}
		})
	}
	t.Run("read-only token may read", func(t *testing.T) {
		if r := a.in(t).as(readOnly).call(http.MethodGet, "/v1/platform/apps", nil); r.Status != http.StatusOK {
			t.Fatalf("list = %s", r)
		}
	})
	t.Run("unknown app", func(t *testing.T) {
		wantProblem(t, a.in(t).call(http.MethodGet, "/v1/platform/apps/app_doesnotexist", nil), http.StatusNotFound, "not_found")
	})
}

// withClaims returns token with claims changed and its signature kept.
func withClaims(t *testing.T, token string, change map[string]any) string {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	for k, v := range change {
		claims[k] = v
	}
	b, _ := json.Marshal(claims)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}

// validClaims are the claims of a bootstrap admin token of issuer, valid
// for an hour.
func validClaims(issuer string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": issuer, "sub": adminID, "aud": []string{issuer}, "client_id": adminID,
		"scope": strings.Join(builtinScopes, " "), "jti": "forged-" + rand.Text(), "tid": "default",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// foreignToken signs a perfect admin token with a key of the test's own,
// claiming to be the server's key kid.
func foreignToken(t *testing.T, issuer, kid string, alg jose.SignatureAlgorithm) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(sig).Claims(validClaims(issuer)).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// unsignedToken is an admin token with "alg": "none" (RFC 7519 §6).
func unsignedToken(t *testing.T, issuer, kid string) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "at+jwt", "kid": kid})
	c, _ := json.Marshal(validClaims(issuer))
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
}

// TestAppLifecycle: create, read, list, update with If-Match, delete; the
// client secret is shown exactly once; ETag is "<version>".
func TestAppLifecycle(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	admin := a.adminApp()
	name := uniqueName(t, "app")
	meta := map[string]any{"team": "payments", "nested": map[string]any{"n": 1.5, "list": []any{"a", true}}}
	before := time.Now()
	r := a.call(http.MethodPost, "/v1/platform/apps", map[string]any{"name": name, "metadata": meta})
	if r.Status != http.StatusCreated {
		t.Fatalf("create = %s", r)
	}
	var app appView
	r.decode(t, &app)
	secret := app.ClientSecret
	if tag := r.Header.Get("ETag"); tag != `"1"` {
		t.Errorf("create: ETag = %q, want \"1\"", tag)
	}
	if app.Name != name || !equalStrings(app.GrantTypes, "client_credentials") || app.RedirectURIs == nil || len(app.RedirectURIs) != 0 ||
		app.TokenEndpointAuthMethod != "client_secret_basic" || !app.Active || app.AccessTokenTTLSeconds != 3600 ||
		app.Version != 1 || app.CreatedBy != admin.ID || len(app.Scopes) != 0 {
		t.Errorf("defaults: %s", r.Body)
	}
	if !sameJSON(t, app.Metadata, meta) {
		t.Errorf("metadata = %s, want %v returned as given", app.Metadata, meta)
	}
	if len(app.Secrets) != 1 || app.Secrets[0].ID == "" || app.Secrets[0].ExpiresAt != nil || app.Secrets[0].CreatedAt.Before(before.Add(-time.Second)) {
		t.Errorf("secrets = %+v, want one without expiry", app.Secrets)
	}
	if app.CreatedAt.IsZero() || !app.UpdatedAt.Equal(app.CreatedAt) {
		t.Errorf("created_at %s updated_at %s", app.CreatedAt, app.UpdatedAt)
	}
	noSecret := func(what string, r reply) {
		t.Helper()
		if strings.Contains(string(r.Body), secret) || strings.Contains(string(r.Body), `"client_secret":`) || strings.Contains(string(r.Body), `"hash"`) {
			t.Errorf("%s shows the client secret or its hash: %s", what, r)
		}
	}

	r = a.call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil)
	if r.Status != http.StatusOK || r.Header.Get("ETag") != `"1"` {
		t.Fatalf("get = %s ETag %q", r, r.Header.Get("ETag"))
	}
	noSecret("GET", r)
	var got appView
	r.decode(t, &got)
	app.ClientSecret = ""
	if !sameJSON(t, mustJSON(t, got), app) {
		t.Errorf("GET differs from the create answer:\n%+v\n%+v", got, app)
	}
	list := a.call(http.MethodGet, "/v1/platform/apps?limit=500", nil)
	noSecret("list", list)
	if !strings.Contains(string(list.Body), app.ID) {
		t.Errorf("list lacks %s", app.ID)
	}

	renamed := strings.ToUpper(name) // only the case: its own name is no conflict
	r = a.call(http.MethodPatch, "/v1/platform/apps/"+app.ID, map[string]any{"name": renamed, "metadata": map[string]any{}, "access_token_ttl_seconds": 120}, "If-Match", `"1"`)
	if r.Status != http.StatusOK || r.Header.Get("ETag") != `"2"` {
		t.Fatalf("patch = %s ETag %q", r, r.Header.Get("ETag"))
	}
	noSecret("PATCH", r)
	r.decode(t, &got)
	if got.Name != renamed || got.Version != 2 || got.AccessTokenTTLSeconds != 120 || string(got.Metadata) != "{}" || !got.UpdatedAt.After(got.CreatedAt) || got.CreatedAt != app.CreatedAt {
		t.Errorf("after patch: %s", r.Body)
	}

	for _, stale := range []string{`"1"`, `"3"`, `W/"1"`, `"x"`} {
		wantProblem(t, a.call(http.MethodPatch, "/v1/platform/apps/"+app.ID, map[string]any{"active": false}, "If-Match", stale), http.StatusPreconditionFailed, "precondition_failed")
		wantProblem(t, a.call(http.MethodDelete, "/v1/platform/apps/"+app.ID, nil, "If-Match", stale), http.StatusPreconditionFailed, "precondition_failed")
	}
	if r := a.call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil); r.Header.Get("ETag") != `"2"` || !strings.Contains(string(r.Body), `"active":true`) {
		t.Fatalf("a stale If-Match changed the app: %s", r)
	}
	if tok := a.mint(credentials{app.ClientID, secret, oauth2.AuthStyleInHeader}); tok.Expiry.After(time.Now().Add(121 * time.Second)) {
		t.Errorf("the patched ttl of 120s gives a token until %s", tok.Expiry)
	}

	if r := a.call(http.MethodDelete, "/v1/platform/apps/"+app.ID, nil, "If-Match", `"2"`); r.Status != http.StatusNoContent || len(r.Body) != 0 {
		t.Fatalf("delete = %s", r)
	}
	wantProblem(t, a.call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil), http.StatusNotFound, "not_found")
	wantProblem(t, a.call(http.MethodDelete, "/v1/platform/apps/"+app.ID, nil), http.StatusNotFound, "not_found")
	wantProblem(t, a.call(http.MethodPatch, "/v1/platform/apps/"+app.ID, map[string]any{"active": true}), http.StatusNotFound, "not_found")
	if strings.Contains(string(a.call(http.MethodGet, "/v1/platform/apps?limit=500", nil).Body), app.ID) {
		t.Error("the list still shows the deleted app")
	}
	// The name is free again.
	a.createApp(map[string]any{"name": name})

	// A rename frees the old name and takes the new one.
	moved := a.createApp(map[string]any{"name": name + "-old"})
	if r := a.call(http.MethodPatch, "/v1/platform/apps/"+moved.ID, map[string]any{"name": name + "-new"}); r.Status != http.StatusOK {
		t.Fatalf("rename = %s", r)
	}
	a.createApp(map[string]any{"name": name + "-OLD"})
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps", map[string]any{"name": name + "-NEW"}), http.StatusConflict, "conflict")
}

// TestAppFieldsAccepted: the edges of each App rule that must pass.
func TestAppFieldsAccepted(t *testing.T) {
	t.Parallel()
	a := adminAPI(t, shared(t))
	for _, tc := range []struct {
		name string
		body map[string]any
	}{
		{"name of 100 characters", map[string]any{"name": strings.Repeat("é", 90) + rand.Text()[:10]}},
		{"code flow on loopback", map[string]any{"grant_types": []string{"authorization_code", "refresh_token"},
			"redirect_uris": []string{"http://127.0.0.1:8400/cb", "http://[::1]/cb", "http://localhost/cb", "https://app.example.com/cb?x=1"}}},
		{"public client", map[string]any{"grant_types": []string{"authorization_code"}, "redirect_uris": []string{"https://app.example.com/cb"}, "token_endpoint_auth_method": "none"}},
		{"private_key_jwt with jwks", map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks": publicJWKS(t)}},
		{"ttl bounds low", map[string]any{"access_token_ttl_seconds": 60}},
		{"ttl bounds high", map[string]any{"access_token_ttl_seconds": 86400}},
		{"metadata of 16 KiB", map[string]any{"metadata": map[string]any{"k": strings.Repeat("m", 16<<10-8)}}},
		{"inactive", map[string]any{"active": false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := a.in(t)
			if _, ok := tc.body["name"]; !ok {
				tc.body["name"] = uniqueName(t, "ok")
			}
			app := a.createApp(tc.body)
			if _, ok := tc.body["active"]; ok && app.Active {
				t.Error("active: false was ignored")
			}
		})
	}
}

// publicJWKS is a JWK set of one fresh public P-256 key.
func publicJWKS(t *testing.T) map[string]any {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"}
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// adminApp is the app of a's token (the bootstrap admin app), found in
// the list by its client id.
func (a *api) adminApp() appView {
	a.t.Helper()
	var c accessClaims
	if err := json.Unmarshal(mustDecodeSegment(a.t, strings.Split(a.token, ".")[1]), &c); err != nil {
		a.t.Fatal(err)
	}
	for _, app := range a.listAll(500) {
		if app.ClientID == c.ClientID {
			return app
		}
	}
	a.t.Fatalf("no app has the client id %s", c.ClientID)
	return appView{}
}

func equalStrings(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameJSON reports whether raw and v encode the same JSON value.
func sameJSON(t *testing.T, raw []byte, v any) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(raw, &x); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	if err := json.Unmarshal(mustJSON(t, v), &y); err != nil {
		t.Fatal(err)
	}
	return string(mustJSON(t, x)) == string(mustJSON(t, y))
}
