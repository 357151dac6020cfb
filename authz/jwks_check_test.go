package authz

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// TestCheckJWKSAlgFitsKey: a registered JWK's "alg" must be one its key
// can sign with (RFC 7518 §3.1: ES256 is P-256, RS/PS are RSA, EdDSA and
// Ed25519 are Ed25519), and an RSA key has at least 2048 bits (§3.3: "A
// key of size 2048 bits or larger MUST be used"). An "alg" the key cannot
// make was accepted, and the app could then never authenticate.
func TestCheckJWKSAlgFitsKey(t *testing.T) {
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	set := func(key crypto.PublicKey, alg string) json.RawMessage {
		b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, Algorithm: alg, Use: "sig"}}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		key  crypto.PublicKey
		alg  string
		want string // "" accepted, else a part of the message
	}{
		{p256.Public(), "ES256", ""},
		{p256.Public(), "", ""},
		{p384.Public(), "ES384", ""},
		{rsa2048.Public(), "RS256", ""},
		{rsa2048.Public(), "PS512", ""},
		{edPub, "EdDSA", ""},
		{edPub, "Ed25519", ""},
		{p256.Public(), "ES384", "cannot sign"},
		{p384.Public(), "ES256", "cannot sign"},
		{p256.Public(), "RS256", "cannot sign"},
		{rsa2048.Public(), "ES256", "cannot sign"},
		{rsa2048.Public(), "EdDSA", "cannot sign"},
		{edPub, "ES256", "cannot sign"},
		{rsa1024.Public(), "RS256", "2048"},
		{rsa1024.Public(), "", "2048"},
	} {
		got := checkJWKS(set(c.key, c.alg))
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("a %T with alg %q: %q, want %q", c.key, c.alg, got, c.want)
		}
	}
}
