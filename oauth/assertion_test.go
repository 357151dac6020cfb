package oauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/jwstest"
)

const assertionIssuer = "https://auth.example.com"

// signedAssertion returns a compact JWS of claims signed by key with kid.
func signedAssertion(t *testing.T, key *ecdsa.PrivateKey, kid string, claims any) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// verifyAssertion parses raw as authenticate does and verifies it with
// the key set.
func verifyAssertion(t *testing.T, raw string, set json.RawMessage) (assertionClaims, error) {
	t.Helper()
	tok, err := jwt.ParseSigned(raw, assertionAlgs)
	if err != nil {
		t.Fatalf("parse %s: %v", raw, err)
	}
	return verifySignature(raw, tok, set)
}

func jwksJSON(t *testing.T, keys ...jose.JSONWebKey) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAssertionSignature: the registered key of the kid verifies; another
// key under that kid, a key marked for encryption or for another algorithm
// does not.
func TestAssertionSignature(t *testing.T) {
	good, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	claims := map[string]any{"sub": "c1"}
	pub := jose.JSONWebKey{Key: &good.PublicKey, KeyID: "k1"}
	if _, err := verifyAssertion(t, signedAssertion(t, good, "k1", claims), jwksJSON(t, pub)); err != nil {
		t.Fatalf("registered key: %v", err)
	}
	noUse := pub
	noUse.Use, noUse.Algorithm = "", ""
	if _, err := verifyAssertion(t, signedAssertion(t, good, "", claims), jwksJSON(t, noUse)); err != nil {
		t.Fatalf("a key without use or alg, no kid: %v", err)
	}
	enc, alg := pub, pub
	enc.Use, alg.Algorithm = "enc", "ES384"
	for name, set := range map[string]json.RawMessage{
		"another key under the kid": jwksJSON(t, jose.JSONWebKey{Key: &other.PublicKey, KeyID: "k1"}),
		"a key for encryption":      jwksJSON(t, enc),
		"a key for another alg":     jwksJSON(t, alg),
		"no key set":                nil,
	} {
		if _, err := verifyAssertion(t, signedAssertion(t, good, "k1", claims), set); !errorIs(err, fosite.ErrInvalidClient) {
			t.Errorf("%s: %v, want invalid_client", name, err)
		}
	}
}

// ed25519Assertion is jwstest.Ed25519's JWS of claims with header.
func ed25519Assertion(t *testing.T, key ed25519.PrivateKey, header map[string]any, claims any) string {
	t.Helper()
	raw, err := jwstest.Ed25519(key, header, claims)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestAssertionEd25519: an Ed25519 key verifies an assertion whose alg is
// RFC 9864's "Ed25519" (what openid-client 6 sends for such a key) as well
// as "EdDSA", whether the key was registered without an alg or with
// either name; another key, a changed payload or header, a "crit" header
// or an "Ed25519" header on an EC key does not.
func TestAssertionEd25519(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	claims := map[string]any{"sub": "c1", "jti": "j1"}
	head := map[string]any{"alg": "Ed25519", "kid": "k1"}
	signed := ed25519Assertion(t, priv, head, claims)
	for _, regAlg := range []string{"", "EdDSA", "Ed25519"} {
		set := jwksJSON(t, jose.JSONWebKey{Key: pub, KeyID: "k1", Algorithm: regAlg, Use: "sig"})
		c, err := verifyAssertion(t, signed, set)
		if err != nil || c.Subject != "c1" || c.ID != "j1" {
			t.Errorf("registered alg %q, header Ed25519: %+v, %v", regAlg, c, err)
		}
		eddsa := ed25519Assertion(t, priv, map[string]any{"alg": "EdDSA", "kid": "k1"}, claims)
		if _, err := verifyAssertion(t, eddsa, set); err != nil {
			t.Errorf("registered alg %q, header EdDSA: %v", regAlg, err)
		}
	}
	good := jwksJSON(t, jose.JSONWebKey{Key: pub, KeyID: "k1"})
	parts := strings.Split(signed, ".")
	forged := ed25519Assertion(t, priv, head, map[string]any{"sub": "c2", "jti": "j1"})
	for name, tc := range map[string]struct {
		raw string
		set json.RawMessage
	}{
		"another key under the kid": {signed, jwksJSON(t, jose.JSONWebKey{Key: otherPub, KeyID: "k1"})},
		"a key for another alg":     {signed, jwksJSON(t, jose.JSONWebKey{Key: pub, KeyID: "k1", Algorithm: "ES256"})},
		"an EC key":                 {ed25519Assertion(t, priv, head, claims), jwksJSON(t, jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "k1"})},
		"the payload changed":       {parts[0] + "." + strings.Split(forged, ".")[1] + "." + parts[2], good},
		"the header changed":        {strings.Split(ed25519Assertion(t, priv, map[string]any{"alg": "Ed25519", "kid": "k1", "x": 1}, claims), ".")[0] + "." + parts[1] + "." + parts[2], good},
		"a crit header":             {ed25519Assertion(t, priv, map[string]any{"alg": "Ed25519", "kid": "k1", "crit": []string{"exp"}, "exp": 1}, claims), good},
	} {
		if _, err := verifyAssertion(t, tc.raw, tc.set); !errorIs(err, fosite.ErrInvalidClient) {
			t.Errorf("%s: %v, want invalid_client", name, err)
		}
	}
}

// TestAssertionClaims: RFC 7523 §3's rules on iss, aud, exp, nbf, iat and
// jti, with 30 s of clock skew.
func TestAssertionClaims(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := &assertionVerifier{issuer: assertionIssuer, now: func() time.Time { return now }}
	auds := v.audiences(httptest.NewRequest("POST", "/v1/oauth/introspect", nil))
	at := func(d time.Duration) *jwt.NumericDate { return jwt.NewNumericDate(now.Add(d)) }
	ok := assertionClaims{Issuer: "c1", Subject: "c1", Audience: jwt.Audience{assertionIssuer}, Expiry: at(time.Minute), IssuedAt: at(0), ID: "j1"}
	exp, err := v.checkClaims(ok, "c1", auds)
	if err != nil || !exp.Equal(now.Add(time.Minute+assertionLeeway)) {
		t.Fatalf("valid claims: %v, %v", exp, err)
	}
	for _, aud := range []string{assertionIssuer + "/v1/oauth/token", assertionIssuer + "/v1/oauth/introspect"} {
		c := ok
		c.Audience = jwt.Audience{"https://someone.else", aud}
		if _, err := v.checkClaims(c, "c1", auds); err != nil {
			t.Errorf("aud %s: %v", aud, err)
		}
	}
	bad := map[string]func(c *assertionClaims){
		"iss not the client":       func(c *assertionClaims) { c.Issuer = "c2" },
		"aud another server":       func(c *assertionClaims) { c.Audience = jwt.Audience{"https://auth.example.org"} },
		"aud the revocation URL":   func(c *assertionClaims) { c.Audience = jwt.Audience{assertionIssuer + "/v1/oauth/revoke"} },
		"no exp":                   func(c *assertionClaims) { c.Expiry = nil },
		"expired beyond the skew":  func(c *assertionClaims) { c.Expiry = at(-assertionLeeway) },
		"exp more than an hour":    func(c *assertionClaims) { c.Expiry = at(maxAssertionLife + assertionLeeway + time.Second) },
		"nbf in the future":        func(c *assertionClaims) { c.NotBefore = at(assertionLeeway + time.Second) },
		"iat in the future":        func(c *assertionClaims) { c.IssuedAt = at(assertionLeeway + time.Second) },
		"no jti":                   func(c *assertionClaims) { c.ID = "" },
		"jti longer than 255 char": func(c *assertionClaims) { c.ID = strings.Repeat("j", 256) },
	}
	for name, f := range bad {
		c := ok
		f(&c)
		if _, err := v.checkClaims(c, "c1", auds); !errorIs(err, fosite.ErrInvalidClient) {
			t.Errorf("%s: %v, want invalid_client", name, err)
		}
	}
	c := ok
	c.Expiry = at(-assertionLeeway + time.Second) // within the skew
	if _, err := v.checkClaims(c, "c1", auds); err != nil {
		t.Errorf("expired within the skew: %v", err)
	}
}

func errorIs(err error, want *fosite.RFC6749Error) bool {
	return err != nil && fosite.ErrorToRFC6749Error(err).ErrorField == want.ErrorField
}

// TestNoLibraryErrorText: a hint quoting a library's error is withheld
// from the description; the server's own hints pass.
func TestNoLibraryErrorText(t *testing.T) {
	for _, hint := range []string{"crypto/ecdsa: verification error", "go-jose/go-jose: error in cryptographic primitive",
		"square/go-jose: compact JWS format must have three parts", "json: cannot unmarshal number into Go value", "illegal base64 data at input byte 4"} {
		if !quotesLibraryError(fosite.ErrInvalidClient.WithHint(hint).GetDescription()) {
			t.Errorf("%q passes as the server's own words", hint)
		}
	}
	for _, hint := range []string{"The client_assertion has expired.", "The client is public (token_endpoint_auth_method none): it has no secret to send."} {
		if quotesLibraryError(fosite.ErrInvalidClient.WithHint(hint).GetDescription()) {
			t.Errorf("%q is withheld", hint)
		}
	}
}
