package jwks

import (
	"crypto"
	"crypto/x509"
	"fmt"

	"github.com/gatehouse/gatehouse/sealing"
)

// Seal encrypts priv for storage in the log: its PKCS#8 DER (RFC 5208)
// sealed by s (the sealing.SigningKey purpose) with kid as the record, so
// a sealed key cannot be passed off as another kid's.
func Seal(s *sealing.Sealer, kid string, priv crypto.Signer) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("jwks: encode private key: %w", err)
	}
	defer clear(der)
	return s.Seal(kid, der)
}

// Open decrypts what Seal returned for the same kid. It returns an error
// wrapping sealing.ErrSealed when the key cannot be authenticated.
func Open(s *sealing.Sealer, kid, sealed string) (crypto.Signer, error) {
	der, err := s.Open(kid, sealed)
	if err != nil {
		return nil, fmt.Errorf("jwks: key %s: %w", kid, err)
	}
	defer clear(der)
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("jwks: %s: parse private key: %w", kid, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("jwks: %s: a %T cannot sign", kid, key)
	}
	return signer, nil
}

// errPurpose: a keyring or rotator was given the sealer of another purpose.
var errPurpose = fmt.Errorf("jwks: signing keys need the %s sealer", sealing.SigningKey)

func checkSealer(s *sealing.Sealer) error {
	if s == nil || s.Purpose() != sealing.SigningKey {
		return errPurpose
	}
	return nil
}
