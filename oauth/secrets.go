package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/keyedmac"
	"github.com/gatehouse/gatehouse/sealing"
)

// ClientSecretPrefix starts every client secret Gatehouse issues, so secret
// scanners can recognise a leaked one.
const ClientSecretPrefix = "ghcs_"

// NewClientSecret returns a fresh client secret: 256 random bits.
func NewClientSecret() string {
	return ClientSecretPrefix + RandomToken(32)
}

// RandomToken returns n random bytes (crypto/rand) as unpadded base64url:
// the unguessable part of client secrets, token ids, session ids, states
// and nonces.
func RandomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// SecretHasher stores client secrets as HMAC-SHA256 under a server key
// derived from the master key (DESIGN.md "Tokens"). A client secret has 256
// bits of entropy, so a slow password hash buys nothing; a keyed hash keeps
// the stored value useless without the key and verifies in a microsecond.
// It implements fosite.Hasher.
type SecretHasher struct {
	mac *keyedmac.MAC
}

var _ fosite.Hasher = (*SecretHasher)(nil)

// NewSecretHasher takes the HMAC key from keys (sealing.ClientSecretHMAC).
func NewSecretHasher(keys *sealing.Keys) (*SecretHasher, error) {
	if keys == nil {
		return nil, errors.New("oauth: no master key")
	}
	return &SecretHasher{mac: keyedmac.New(sha256.New, keys.Key(sealing.ClientSecretHMAC))}, nil
}

// Hash returns the keyed hash of secret.
func (h *SecretHasher) Hash(_ context.Context, secret []byte) ([]byte, error) {
	return h.mac.Sum(nil, secret), nil
}

// HashString returns the keyed hash of secret in the base64 form events
// and projections keep.
func (h *SecretHasher) HashString(secret string) string {
	sum, _ := h.Hash(context.Background(), []byte(secret))
	return base64.RawStdEncoding.EncodeToString(sum)
}

// errSecretMismatch is what Compare returns for a wrong secret; fosite turns
// it into invalid_client.
var errSecretMismatch = errors.New("oauth: client secret does not match")

// Compare reports whether secret hashes to hash, in constant time.
func (h *SecretHasher) Compare(ctx context.Context, hash, secret []byte) error {
	if len(hash) == 0 {
		return errSecretMismatch
	}
	sum, _ := h.Hash(ctx, secret)
	if !hmac.Equal(sum, hash) {
		return errSecretMismatch
	}
	return nil
}
