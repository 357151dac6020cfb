// Package jwstest writes JWS the way libraries other than go-jose do, for
// the tests that check the server accepts them (never imported by the
// server).
package jwstest

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
)

// Ed25519 is the compact JWS (RFC 7515 §7.1) of claims with protected
// header header, both as encoding/json writes them, signed by key: the
// header may name RFC 9864's "Ed25519", which oauth4webapi (and so
// openid-client 6) writes for an Ed25519 key and go-jose cannot sign.
func Ed25519(key ed25519.PrivateKey, header, claims any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, []byte(input))), nil
}
