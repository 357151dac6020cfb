package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	gjwt "github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/internal/jwstest"
)

// Client authentication as RFC 6749 §2.3, RFC 7523 §3 and OpenID Connect
// Core §9 say (issue 12 point 4), through the real binary with real
// clients: assertions built by go-jose and by golang-jwt, sent by
// golang.org/x/oauth2's clientcredentials.

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// signingKey is a client's private key for one JWS algorithm.
type signingKey struct {
	kid, alg string
	priv     crypto.Signer
}

// newSigningKey generates a key for alg (ES*, RS*, PS*, EdDSA, Ed25519).
func newSigningKey(t *testing.T, alg string) signingKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "EdDSA", "Ed25519":
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("no key for %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: "k-" + strings.ToLower(alg) + "-" + rand.Text()[:6], alg: alg, priv: priv}
}

// jwk is the public half as the app registers it.
func (k signingKey) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: k.alg, Use: "sig"}
}

func jwksOf(keys ...signingKey) jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, k.jwk())
	}
	return set
}

// claims of a client assertion for clientID, audience aud, expiring at
// exp, with a fresh jti.
func assertionClaimsFor(clientID, aud string, exp time.Time) map[string]any {
	return map[string]any{"iss": clientID, "sub": clientID, "aud": aud, "exp": exp.Unix(),
		"iat": time.Now().Unix(), "jti": rand.Text()}
}

// signJOSE signs claims with go-jose, or for alg "Ed25519" (RFC 9864's
// name of EdDSA with an Ed25519 key, which go-jose does not write) as
// oauth4webapi, and so openid-client 6, does for an Ed25519 key.
func signJOSE(t *testing.T, k signingKey, claims map[string]any) string {
	t.Helper()
	if k.alg == "Ed25519" {
		return signEd25519(t, k, claims)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.alg), Key: k.priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.kid))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// signEd25519 is a compact JWS of claims with header {"alg": "Ed25519",
// "kid"}, signed by k's Ed25519 key.
func signEd25519(t *testing.T, k signingKey, claims map[string]any) string {
	t.Helper()
	raw, err := jwstest.Ed25519(k.priv.(ed25519.PrivateKey), map[string]string{"alg": "Ed25519", "kid": k.kid}, claims)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// signGolangJWT signs claims with github.com/golang-jwt/jwt/v5, a library
// independent of the server's go-jose.
func signGolangJWT(t *testing.T, k signingKey, claims map[string]any) string {
	t.Helper()
	tok := gjwt.NewWithClaims(gjwt.GetSigningMethod(k.alg), gjwt.MapClaims(claims))
	tok.Header["kid"] = k.kid
	out, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// assertionMint runs client_credentials with golang.org/x/oauth2,
// authenticating with assertion (private_key_jwt).
func (a *api) assertionMint(clientID, assertion string) (*oauth2.Token, error) {
	cfg := clientcredentials.Config{ClientID: clientID, TokenURL: a.s.URL + "/v1/oauth/token", AuthStyle: oauth2.AuthStyleInParams,
		EndpointParams: url.Values{"client_assertion_type": {assertionType}, "client_assertion": {assertion}}}
	return cfg.Token(oauthContext(a.t, a.hc))
}

// assertionForm POSTs vals with a client assertion to path, unauthenticated
// otherwise.
func (a *api) assertionForm(path, assertion string, vals url.Values) reply {
	a.t.Helper()
	v := url.Values{"client_assertion_type": {assertionType}, "client_assertion": {assertion}}
	for k, x := range vals {
		v[k] = x
	}
	return a.as("").form(path, v, "", "")
}

// createKeyApp registers a private_key_jwt app with keys; its answer must
// carry no client secret and list no secret.
func (a *api) createKeyApp(t *testing.T, keys ...signingKey) appView {
	t.Helper()
	r := a.call(http.MethodPost, "/v1/platform/apps", map[string]any{
		"name": uniqueName(t, "pkjwt"), "token_endpoint_auth_method": "private_key_jwt", "jwks": jwksOf(keys...)})
	if r.Status != http.StatusCreated {
		t.Fatalf("create private_key_jwt app: %s", r)
	}
	var app appView
	r.decode(t, &app)
	if app.ClientSecret != "" || len(app.Secrets) != 0 || strings.Contains(string(r.Body), "client_secret\"") {
		t.Fatalf("a private_key_jwt app got a client secret: %s", r.Body)
	}
	return app
}

// TestPrivateKeyJWT: RFC 7523 §3 client authentication end to end. An
// assertion from go-jose (aud = the issuer) and one from golang-jwt (aud =
// the token endpoint URL) both get tokens through golang.org/x/oauth2;
// reuse, a wrong aud, expiry, a key the app did not register, a far exp,
// and a secret in place of an assertion are invalid_client, and no answer
// quotes a library.
func TestPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	es, rs := newSigningKey(t, "ES256"), newSigningKey(t, "RS256")
	app := a.createKeyApp(t, es, rs)
	tokenURL := s.URL + "/v1/oauth/token"

	tok, err := a.assertionMint(app.ClientID, signJOSE(t, es, assertionClaimsFor(app.ClientID, s.URL, time.Now().Add(time.Minute))))
	if err != nil {
		t.Fatalf("go-jose assertion, aud = issuer: %v", err)
	}
	if tok.TokenType != "Bearer" {
		t.Errorf("token_type = %q, want Bearer (RFC 6750 §6.1.1)", tok.TokenType)
	}
	if _, c := a.verifyJOSE(tok.AccessToken); c.ClientID != app.ClientID {
		t.Errorf("token of %q, want %q", c.ClientID, app.ClientID)
	}
	golangJWT := signGolangJWT(t, rs, assertionClaimsFor(app.ClientID, tokenURL, time.Now().Add(time.Minute)))
	if _, err := a.assertionMint(app.ClientID, golangJWT); err != nil {
		t.Fatalf("golang-jwt assertion, aud = token endpoint: %v", err)
	}
	_, err = a.assertionMint(app.ClientID, golangJWT)
	wantTokenError(t, err, http.StatusUnauthorized, "invalid_client") // jti used
	t.Run("each use is an event of the app", func(t *testing.T) {
		a := a.in(t)
		var uses int
		items, _ := a.feedPages("events", "client_assertion.used", 500)
		for _, it := range items {
			var d struct {
				ClientID  string    `json:"client_id"`
				ExpiresAt time.Time `json:"expires_at"`
			}
			if err := json.Unmarshal(it.Data, &d); err != nil {
				t.Fatal(err)
			}
			if d.ClientID == app.ClientID {
				uses++
				if it.Actor.ID != app.ID || d.ExpiresAt.IsZero() {
					t.Errorf("client_assertion.used %s: actor %+v, expires_at %s", it.Data, it.Actor, d.ExpiresAt)
				}
			}
		}
		if uses != 2 {
			t.Errorf("%d client_assertion.used events of the app, want 2 (one per accepted assertion)", uses)
		}
	})

	stranger := newSigningKey(t, "ES256")
	stranger.kid = es.kid
	refused := map[string]string{
		"wrong aud":         signJOSE(t, es, assertionClaimsFor(app.ClientID, "https://other.example.com/token", time.Now().Add(time.Minute))),
		"expired":           signJOSE(t, es, assertionClaimsFor(app.ClientID, s.URL, time.Now().Add(-2*time.Minute))),
		"exp a day away":    signJOSE(t, es, assertionClaimsFor(app.ClientID, s.URL, time.Now().Add(24*time.Hour))),
		"unregistered key":  signJOSE(t, stranger, assertionClaimsFor(app.ClientID, s.URL, time.Now().Add(time.Minute))),
		"another client":    signJOSE(t, es, assertionClaimsFor(adminID, s.URL, time.Now().Add(time.Minute))),
		"not a JWT":         "eyJhbGciOiJFUzI1NiJ9.e30.AAAA",
		"flipped signature": flipSignature(t, signJOSE(t, es, assertionClaimsFor(app.ClientID, s.URL, time.Now().Add(time.Minute)))),
	}
	for name, as := range refused {
		t.Run(name, func(t *testing.T) {
			a := a.in(t)
			_, err := a.assertionMint(app.ClientID, as)
			wantTokenError(t, err, http.StatusUnauthorized, "invalid_client")
			r := a.assertionForm("/v1/oauth/token", as, url.Values{"grant_type": {"client_credentials"}})
			wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
			wantNoLibraryText(t, r)
		})
	}
	t.Run("a secret instead of an assertion", func(t *testing.T) {
		a := a.in(t)
		_, err := a.tryMint(credentials{app.ClientID, "ghcs_guess", oauth2.AuthStyleInHeader})
		wantTokenError(t, err, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("no secret to rotate", func(t *testing.T) {
		a := a.in(t)
		wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/secrets", map[string]any{}), http.StatusConflict, "conflict")
	})
	t.Run("introspection with an assertion for its own URL", func(t *testing.T) {
		a := a.in(t)
		as := signJOSE(t, es, assertionClaimsFor(app.ClientID, s.URL+"/v1/oauth/introspect", time.Now().Add(time.Minute)))
		r := a.assertionForm("/v1/oauth/introspect", as, url.Values{"token": {tok.AccessToken}})
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"active":true`) {
			t.Fatalf("introspect with private_key_jwt: %s", r)
		}
	})
}

// flipSignature flips one bit in the middle of a compact JWS's signature
// (not in the last character, whose low bits base64 decoding ignores).
func flipSignature(t *testing.T, jws string) string {
	t.Helper()
	parts := strings.Split(jws, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)/2] ^= 1
	parts[2] = base64.RawURLEncoding.EncodeToString(sig)
	return strings.Join(parts, ".")
}

// wantNoLibraryText fails when an answer quotes a library's error.
func wantNoLibraryText(t *testing.T, r reply) {
	t.Helper()
	for _, m := range []string{"go-jose", "square/", "crypto/", "json:", "x509", "asn1", "base64", "illegal"} {
		if strings.Contains(strings.ToLower(string(r.Body)), m) {
			t.Errorf("the answer quotes a library (%q): %s", m, r.Body)
		}
	}
}

// TestClientSecretBasicAndPost: an app registered with either secret
// method authenticates with both (they prove the same secret; libraries
// default to different ones); sending the secret both ways at once is
// invalid_request; a failed Basic authentication is 401 with a Basic
// challenge, a failed bearer one at introspection a Bearer challenge.
func TestClientSecretBasicAndPost(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	for _, method := range []string{"client_secret_basic", "client_secret_post"} {
		app := a.createApp(map[string]any{"name": uniqueName(t, method), "token_endpoint_auth_method": method})
		for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
			if _, err := a.tryMint(credentials{app.ClientID, app.ClientSecret, style}); err != nil {
				t.Errorf("%s app, auth style %d: %v", method, style, err)
			}
		}
		both := a.as("").form("/v1/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {app.ClientID},
			"client_secret": {app.ClientSecret}}, app.ClientID, app.ClientSecret)
		wantOAuthError(t, both, http.StatusBadRequest, "invalid_request")
	}
	r := a.as("").form("/v1/oauth/token", url.Values{"grant_type": {"client_credentials"}}, adminID, "wrong")
	wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
	if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Basic ") {
		t.Errorf("failed Basic client authentication: WWW-Authenticate %q, want Basic", h)
	}
	r = a.as("not-a-token").form("/v1/oauth/introspect", url.Values{"token": {"x"}}, "", "")
	wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
	if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer ") {
		t.Errorf("failed bearer authentication at introspection: WWW-Authenticate %q, want Bearer", h)
	}
	r = a.as("a.b.c").call(http.MethodGet, "/v1/platform/apps", nil)
	wantProblem(t, r, http.StatusUnauthorized, "unauthorized")
	wantNoLibraryText(t, r)
	if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer ") {
		t.Errorf("platform API: WWW-Authenticate %q, want Bearer", h)
	}
}

// TestAuthMethodPatch: PATCH changes token_endpoint_auth_method. To
// private_key_jwt it needs jwks and ends every secret at once; back to a
// secret method the answer carries a new secret, shown once; between the
// two secret methods the secret stays.
func TestAuthMethodPatch(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	app := a.createApp(map[string]any{"name": uniqueName(t, "switch")})
	path := "/v1/platform/apps/" + app.ID
	patch := func(body map[string]any) (appView, reply) {
		t.Helper()
		r := a.call(http.MethodPatch, path, body)
		var v appView
		if r.Status == http.StatusOK {
			r.decode(t, &v)
		}
		return v, r
	}
	p := wantProblem(t, a.call(http.MethodPatch, path, map[string]any{"token_endpoint_auth_method": "private_key_jwt"}), http.StatusBadRequest, "validation_error")
	if !slices.Contains(p.fields(), "jwks") {
		t.Errorf("private_key_jwt without jwks: fields %v, want jwks", p.fields())
	}
	v, r := patch(map[string]any{"token_endpoint_auth_method": "client_secret_post"})
	if r.Status != http.StatusOK || v.TokenEndpointAuthMethod != "client_secret_post" || v.ClientSecret != "" || len(v.Secrets) != 1 {
		t.Fatalf("basic to post: %s", r)
	}
	a.mint(credentials{app.ClientID, app.ClientSecret, oauth2.AuthStyleInHeader})

	key := newSigningKey(t, "ES256")
	v, r = patch(map[string]any{"token_endpoint_auth_method": "private_key_jwt", "jwks": jwksOf(key)})
	if r.Status != http.StatusOK || v.TokenEndpointAuthMethod != "private_key_jwt" || len(v.Secrets) != 0 || v.ClientSecret != "" {
		t.Fatalf("to private_key_jwt: %s", r)
	}
	_, err := a.tryMint(credentials{app.ClientID, app.ClientSecret, oauth2.AuthStyleInParams})
	wantTokenError(t, err, http.StatusUnauthorized, "invalid_client")
	if _, err := a.assertionMint(app.ClientID, signJOSE(t, key, assertionClaimsFor(app.ClientID, s.URL, time.Now().Add(time.Minute)))); err != nil {
		t.Fatalf("assertion after the switch: %v", err)
	}

	v, r = patch(map[string]any{"token_endpoint_auth_method": "client_secret_basic"})
	if r.Status != http.StatusOK || !strings.HasPrefix(v.ClientSecret, "ghcs_") || len(v.Secrets) != 1 {
		t.Fatalf("back to client_secret_basic: %s", r)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("an answer with a secret has Cache-Control %q", cc)
	}
	a.mint(credentials{app.ClientID, v.ClientSecret, oauth2.AuthStyleInHeader})
	_, err = a.assertionMint(app.ClientID, signJOSE(t, key, assertionClaimsFor(app.ClientID, s.URL, time.Now().Add(time.Minute))))
	wantTokenError(t, err, http.StatusUnauthorized, "invalid_client")
	if got := a.call(http.MethodGet, path, nil); strings.Contains(string(got.Body), v.ClientSecret) {
		t.Fatal("GET shows the secret")
	}
}

// TestAssertionOnceAcrossInstances: two instances on one NATS; one
// assertion sent to both at once gets one token and one invalid_client,
// and sent again to either it is refused: its jti is recorded in the log,
// not in an instance's memory.
func TestAssertionOnceAcrossInstances(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2)
	admin := c.api(0, "")
	admin.token = admin.mint(adminCreds()).AccessToken
	key := newSigningKey(t, "ES256")
	app := admin.createKeyApp(t, key)
	iss := "https://gatehouse.cluster.test"
	for round := range 3 {
		as := signJOSE(t, key, assertionClaimsFor(app.ClientID, iss+"/v1/oauth/token", time.Now().Add(time.Minute)))
		var wg sync.WaitGroup
		status := make([]int, 2)
		for i := range 2 {
			wg.Go(func() {
				r, err := c.api(i, "").try(http.MethodPost, "/v1/oauth/token", url.Values{"grant_type": {"client_credentials"},
					"client_assertion_type": {assertionType}, "client_assertion": {as}}.Encode(), "Content-Type", "application/x-www-form-urlencoded")
				if err != nil {
					t.Error(err)
				}
				status[i] = r.Status
			})
		}
		wg.Wait()
		slices.Sort(status)
		if status[0] != http.StatusOK || status[1] != http.StatusUnauthorized {
			t.Fatalf("round %d: one assertion on two instances answered %v, want one 200 and one 401", round, status)
		}
		for i := range 2 {
			r := c.api(i, "").assertionForm("/v1/oauth/token", as, url.Values{"grant_type": {"client_credentials"}})
			wantOAuthError(t, r, http.StatusUnauthorized, "invalid_client")
		}
	}
}

// TestPrivateKeyJWTEd25519: an assertion an Ed25519 key signed with alg
// "Ed25519" (RFC 9864 §2.2's name of EdDSA with Ed25519, the one
// oauth4webapi and so openid-client 6 write for such a key) gets a token,
// also when the key was registered as "EdDSA"; a replay is still refused,
// and discovery lists the name at each endpoint (openid-client 6 got
// invalid_client).
func TestPrivateKeyJWTEd25519(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	k := newSigningKey(t, "Ed25519")
	registered := k
	registered.alg = "EdDSA"
	app := a.createKeyApp(t, registered)
	as := signJOSE(t, k, assertionClaimsFor(app.ClientID, s.URL, time.Now().Add(time.Minute)))
	tok, err := a.assertionMint(app.ClientID, as)
	if err != nil {
		t.Fatalf("assertion of alg Ed25519, key registered as EdDSA: %v", err)
	}
	if _, c := a.verifyJOSE(tok.AccessToken); c.ClientID != app.ClientID {
		t.Errorf("token of %q, want %q", c.ClientID, app.ClientID)
	}
	_, err = a.assertionMint(app.ClientID, as)
	wantTokenError(t, err, http.StatusUnauthorized, "invalid_client") // jti used
	var m metadata
	a.call(http.MethodGet, "/.well-known/openid-configuration", nil).decode(t, &m)
	for name, algs := range map[string][]string{"token": m.TokenEndpointAuthSigningAlgs,
		"introspection": m.IntrospectionAuthSigningAlgs, "revocation": m.RevocationAuthSigningAlgs} {
		if !slices.Contains(algs, "Ed25519") {
			t.Errorf("%s endpoint's signing algorithms %v lack Ed25519", name, algs)
		}
	}
}

// TestDiscoveryOnlyWhatWorks: the discovery document says only what works
// (issue 12 point 5). Its members are exactly those this test knows how to
// exercise, and it exercises every value of each: every grant, every
// client authentication method at each endpoint that lists it, every
// assertion signing algorithm, every scope; response types are none, as
// there is no authorization endpoint.
func TestDiscoveryOnlyWhatWorks(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	r := a.call(http.MethodGet, "/.well-known/oauth-authorization-server", nil)
	var members map[string]json.RawMessage
	r.decode(t, &members)
	known := []string{"issuer", "token_endpoint", "jwks_uri", "introspection_endpoint", "revocation_endpoint", "scopes_supported",
		"response_types_supported", "grant_types_supported", "token_endpoint_auth_methods_supported",
		"token_endpoint_auth_signing_alg_values_supported", "introspection_endpoint_auth_methods_supported",
		"introspection_endpoint_auth_signing_alg_values_supported", "revocation_endpoint_auth_methods_supported",
		"revocation_endpoint_auth_signing_alg_values_supported",
		// The code flow (package idp): exercised end to end by the code-flow tests
		// (server/http_idp_test.go, e2e/idp_test.go).
		"authorization_endpoint", "code_challenge_methods_supported", "response_modes_supported",
		"userinfo_endpoint", "end_session_endpoint", "subject_types_supported", "id_token_signing_alg_values_supported",
		"claims_supported", "prompt_values_supported",
		// Pushed authorization requests (RFC 9126): server/http_par_test.go
		// runs the flow; here the endpoint answers and is not required.
		"pushed_authorization_request_endpoint", "require_pushed_authorization_requests",
		// Both false: request objects are refused (server/http_idp_params_test.go).
		"request_parameter_supported", "request_uri_parameter_supported",
		// True: iss in every authorization response (RFC 9207),
		// server/http_idp_iss_test.go.
		"authorization_response_iss_parameter_supported"}
	for m := range members {
		if !slices.Contains(known, m) {
			t.Errorf("discovery advertises %q, which this test does not exercise", m)
		}
	}
	var m metadata
	r.decode(t, &m)
	if !slices.Equal(m.ResponseTypesSupported, []string{"code"}) {
		t.Errorf("response_types_supported %v, want [code]", m.ResponseTypesSupported)
	}
	var par struct {
		Endpoint string `json:"pushed_authorization_request_endpoint"`
		Require  *bool  `json:"require_pushed_authorization_requests"`
	}
	r.decode(t, &par)
	if par.Endpoint != s.URL+"/v1/oauth/par" || par.Require == nil || *par.Require {
		t.Errorf("PAR metadata %q %v, want %s/v1/oauth/par, not required", par.Endpoint, par.Require, s.URL)
	}
	if r := a.as("").form("/v1/oauth/par", url.Values{"response_type": {"code"}}, "", ""); r.Status != http.StatusUnauthorized {
		t.Errorf("POST /v1/oauth/par unauthenticated = %d, want 401 invalid_client", r.Status)
	}
	if r := a.call(http.MethodGet, "/v1/oauth/authorize", nil); r.Status != http.StatusBadRequest {
		t.Errorf("GET /v1/oauth/authorize without parameters = %d, want the error page's 400", r.Status)
	}
	// Token exchange (RFC 8693) is exercised by e2e/proxy_test.go
	// (TestProxyAgainstUpstreamGatehouse, "token exchange").
	for _, g := range m.GrantTypesSupported {
		if !slices.Contains([]string{"client_credentials", "authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:token-exchange"}, g) {
			t.Errorf("grant %q is advertised but not exercised", g)
		}
	}
	for _, sc := range m.ScopesSupported {
		if slices.Contains([]string{"openid", "offline_access", "profile", "email"}, sc) {
			continue // a person's scopes, never on a service token (server/http_idp_test.go, http_idp_scopes_test.go)
		}
		if tok := a.mint(adminCreds(), sc); !strings.Contains(tok.Extra("scope").(string), sc) {
			t.Errorf("scope %q: token of scope %v", sc, tok.Extra("scope"))
		}
	}
	for _, sc := range []string{"platform:users:read", "platform:users:write"} {
		if !slices.Contains(m.ScopesSupported, sc) {
			t.Errorf("scope %q guards the users API but is not advertised: %v", sc, m.ScopesSupported)
		}
	}
	var keys []signingKey
	for _, alg := range m.TokenEndpointAuthSigningAlgs {
		keys = append(keys, newSigningKey(t, alg))
	}
	keyApp := a.createKeyApp(t, keys...)
	for _, k := range keys {
		as := signJOSE(t, k, assertionClaimsFor(keyApp.ClientID, s.URL, time.Now().Add(time.Minute)))
		if _, err := a.assertionMint(keyApp.ClientID, as); err != nil {
			t.Errorf("token endpoint, assertion signed with %s: %v", k.alg, err)
		}
	}
	secretApp := a.createApp(map[string]any{"name": uniqueName(t, "secret")})
	endpoints := []struct {
		path           string
		methods, algs  []string
		wantStatusCode int
	}{
		{"/v1/oauth/token", m.TokenEndpointAuthMethodsSupported, m.TokenEndpointAuthSigningAlgs, http.StatusOK},
		{"/v1/oauth/introspect", m.IntrospectionAuthMethodsSupported, m.IntrospectionAuthSigningAlgs, http.StatusOK},
		{"/v1/oauth/revoke", m.RevocationAuthMethodsSupported, m.RevocationAuthSigningAlgs, http.StatusOK},
	}
	for _, ep := range endpoints {
		// vals is the form of a request to ep by the app mint gets tokens
		// of: a token of its own to introspect or revoke (RFC 7009 §2.1).
		vals := func(mint func() string) url.Values {
			if ep.path == "/v1/oauth/token" {
				return url.Values{"grant_type": {"client_credentials"}}
			}
			return url.Values{"token": {mint()}}
		}
		secretToken := func() string { return a.mint(appCreds(secretApp)).AccessToken }
		keyToken := func() string {
			tok, err := a.assertionMint(keyApp.ClientID, signJOSE(t, keys[0], assertionClaimsFor(keyApp.ClientID, s.URL, time.Now().Add(time.Minute))))
			if err != nil {
				t.Fatal(err)
			}
			return tok.AccessToken
		}
		for _, method := range ep.methods {
			var r reply
			switch method {
			case "client_secret_basic":
				r = a.as("").form(ep.path, vals(secretToken), secretApp.ClientID, secretApp.ClientSecret)
			case "client_secret_post":
				v := vals(secretToken)
				v.Set("client_id", secretApp.ClientID)
				v.Set("client_secret", secretApp.ClientSecret)
				r = a.as("").form(ep.path, v, "", "")
			case "private_key_jwt":
				for _, k := range keys {
					if !slices.Contains(ep.algs, k.alg) {
						continue
					}
					as := signJOSE(t, k, assertionClaimsFor(keyApp.ClientID, s.URL, time.Now().Add(time.Minute)))
					if r = a.assertionForm(ep.path, as, vals(keyToken)); r.Status != ep.wantStatusCode {
						t.Errorf("%s with private_key_jwt %s: %s", ep.path, k.alg, r)
					}
				}
			case "none":
				// Public clients: the code flow at the token endpoint
				// (exercised by server/http_idp_test.go TestIdPPublicClientNeedsPKCE)
				// and the revocation of their own tokens (RFC 7009 §2.1;
				// server/http_oauth_conformance_test.go TestRevokeRefreshToken).
				if ep.path != "/v1/oauth/token" && ep.path != "/v1/oauth/revoke" {
					t.Errorf("%s: method none is advertised", ep.path)
				}
				continue
			default:
				t.Errorf("%s: method %q is advertised but not exercised", ep.path, method)
				continue
			}
			if r.Status != ep.wantStatusCode {
				t.Errorf("%s with %s: %s", ep.path, method, r)
			}
		}
		if !slices.Equal(ep.algs, m.TokenEndpointAuthSigningAlgs) {
			t.Errorf("%s: signing algorithms %v differ from the token endpoint's %v", ep.path, ep.algs, m.TokenEndpointAuthSigningAlgs)
		}
	}
}
