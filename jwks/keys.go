package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/events"
)

// Signature algorithms a key may use (RFC 7518 §3.1 "alg" values; EdDSA
// with Ed25519 from RFC 8037 §3.1).
const (
	ES256 = string(jose.ES256) // ECDSA P-256 SHA-256, RFC 7518 §3.4: the default
	RS256 = string(jose.RS256) // RSASSA-PKCS1-v1_5 SHA-256, RFC 7518 §3.3
	EdDSA = string(jose.EdDSA) // Ed25519, RFC 8037 §3.1
)

// algs lists the algorithms a Gatehouse token may carry. Anything else,
// "none" (RFC 7518 §3.6) and the HMAC family included, is rejected.
var algs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA}

// RSA key sizes Generate accepts (RFC 7518 §3.3 requires at least 2048).
const (
	RSA2048 = 2048
	RSA3072 = 3072
)

// Generate returns a new private key for alg. rsaBits (2048 or 3072) is
// read for RS256 only; 0 means 2048.
func Generate(alg string, rsaBits int) (crypto.Signer, error) {
	switch alg {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		if rsaBits == 0 {
			rsaBits = RSA2048
		}
		if rsaBits != RSA2048 && rsaBits != RSA3072 {
			return nil, fmt.Errorf("jwks: RSA key size %d: use 2048 or 3072", rsaBits)
		}
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("jwks: unsupported algorithm %q: use ES256, RS256 or EdDSA", alg)
}

// NewKID returns a new random key ID (RFC 7517 §4.5): "key_" and 160 random
// bits in lower-case base32, safe in URLs, JSON and log subjects.
func NewKID() string { return events.NewID("key") }

// checkAlg reports whether priv is a key of the kind alg signs with.
func checkAlg(alg string, priv crypto.Signer) error {
	ok := false
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		ok = alg == ES256 && k.Curve == elliptic.P256()
	case *rsa.PrivateKey:
		ok = alg == RS256 && k.N.BitLen() >= RSA2048
	case ed25519.PrivateKey:
		ok = alg == EdDSA
	}
	if !ok {
		return fmt.Errorf("a %T is not a key for %s", priv, alg)
	}
	return nil
}

// publicJWK returns the public half of priv as a JWK (RFC 7517 §4) with
// kid, alg and use "sig" (§4.2): never a private member.
func publicJWK(kid, alg string, priv crypto.Signer) jose.JSONWebKey {
	return jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"}
}

// PublicJWK returns the JSON of priv's public JWK, as events.KeyCreated
// carries it.
func PublicJWK(kid, alg string, priv crypto.Signer) (json.RawMessage, error) {
	if err := checkAlg(alg, priv); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	return json.Marshal(publicJWK(kid, alg, priv))
}
