package jwks

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
)

// MasterKeySize is the size of the master key: AES-256.
const MasterKeySize = 32

// Errors of Seal and Open. Callers test them with errors.Is.
var (
	// ErrMasterKey: the master key is not MasterKeySize bytes.
	ErrMasterKey = errors.New("jwks: the master key must be 32 bytes")
	// ErrSealed: a sealed key cannot be opened: wrong master key, wrong
	// kid, or altered ciphertext.
	ErrSealed = errors.New("jwks: cannot open sealed key")
)

// Seal encrypts priv for storage in the log: its PKCS#8 DER (RFC 5208)
// under AES-256-GCM with masterKey and a random 96-bit nonce, kid as the
// additional authenticated data, so a sealed key cannot be passed off as
// another kid's. The result is standard base64 of nonce ‖ ciphertext ‖ tag.
func Seal(masterKey []byte, kid string, priv crypto.Signer) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("jwks: encode private key: %w", err)
	}
	defer clear(der)
	return SealBytes(masterKey, kid, der)
}

// Open decrypts what Seal returned for the same masterKey and kid. It
// returns ErrSealed when the key cannot be authenticated.
func Open(masterKey []byte, kid, sealed string) (crypto.Signer, error) {
	der, err := OpenBytes(masterKey, kid, sealed)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("jwks: %s: parse private key: %w", kid, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("jwks: %s: a %T cannot sign", kid, key)
	}
	return s, nil
}

// SealBytes encrypts plain under AES-256-GCM with masterKey and a random
// 96-bit nonce, with aad (what the secret belongs to) as additional
// authenticated data: standard base64 of nonce ‖ ciphertext ‖ tag. Webhook
// signing secrets are stored this way.
func SealBytes(masterKey []byte, aad string, plain []byte) (string, error) {
	aead, err := newAEAD(masterKey)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, []byte(aad))), nil
}

// OpenBytes decrypts what SealBytes returned for the same masterKey and
// aad, or returns ErrSealed.
func OpenBytes(masterKey []byte, aad, sealed string) ([]byte, error) {
	aead, err := newAEAD(masterKey)
	if err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: %s: malformed", ErrSealed, aad)
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, raw[:n], raw[n:], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrSealed, aad)
	}
	return plain, nil
}

func newAEAD(masterKey []byte) (cipher.AEAD, error) {
	if len(masterKey) != MasterKeySize {
		return nil, ErrMasterKey
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
