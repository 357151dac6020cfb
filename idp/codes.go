package idp

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/gatehouse/gatehouse/internal/keyedmac"
)

// codeTokens is fosite's HMACSHAStrategy (oauth2.NewHMACSHAStrategy over
// token/hmac.HMACStrategy) for authorization codes and refresh tokens:
// the same tokens ("ory_ac_" or "ory_rt_", the base64url of 32 random
// bytes, ".", the base64url of their HMAC-SHA512/256 under the first 32
// bytes of the global secret), signatures, expiry checks and errors, the
// rotated global secrets tried in turn at validation. fosite's builds an
// HMAC (hmac.New: two SHA-512 states and their key schedule) for every
// token it generates or validates and generates under one mutex; this
// one keeps the key's HMACs in a pool and resets them (TestCodeTokens
// compares the two).
type codeTokens struct {
	cfg *fosite.Config
	// macs is the pooled HMAC per secret, by the secret's first 32 bytes.
	macs sync.Map // [32]byte → *keyedmac.MAC
	// last is the key used last and its MAC: almost every token is made
	// or checked under the global secret, found here without boxing the
	// key to look it up in macs.
	last atomic.Pointer[keyMAC]
}

// keyMAC is a secret's first 32 bytes and their pooled HMAC.
type keyMAC struct {
	key [32]byte
	mac *keyedmac.MAC
}

var (
	_ oauth2.RefreshTokenStrategy  = (*codeTokens)(nil)
	_ oauth2.AuthorizeCodeStrategy = (*codeTokens)(nil)
)

func newCodeTokens(cfg *fosite.Config) *codeTokens { return &codeTokens{cfg: cfg} }

// minSecret and minEntropy are fosite's (token/hmac): a secret shorter
// than 32 bytes is refused, tokens have at least 32 random bytes.
const (
	minSecret  = 32
	minEntropy = 32
)

var b64 = base64.RawURLEncoding

// mac returns the HMAC-SHA512/256 of data under key (the hasher fosite's
// configuration names, SHA-512/256 by default).
func (c *codeTokens) mac(ctx context.Context, key *[32]byte, data []byte) []byte {
	if hasher := c.cfg.GetHMACHasher(ctx); hasher != nil {
		return hmacOf(hasher, *key, data)
	}
	if km := c.last.Load(); km != nil && km.key == *key {
		return km.mac.Sum(make([]byte, 0, sha512.Size256), data)
	}
	k := *key
	v, ok := c.macs.Load(k)
	if !ok {
		v, _ = c.macs.LoadOrStore(k, keyedmac.New(sha512.New512_256, k[:]))
	}
	m := v.(*keyedmac.MAC)
	c.last.Store(&keyMAC{key: k, mac: m})
	return m.Sum(make([]byte, 0, sha512.Size256), data)
}

// hmacOf is the HMAC of data under key with a hasher fosite's
// configuration names (a copy of the key, which hmac.New keeps).
func hmacOf(hasher func() hash.Hash, key [32]byte, data []byte) []byte {
	h := hmac.New(hasher, key[:])
	h.Write(data)
	return h.Sum(nil)
}

// generate is token/hmac.HMACStrategy.Generate with prefix.
func (c *codeTokens) generate(ctx context.Context, prefix string) (string, string, error) {
	secret, err := c.cfg.GetGlobalSecret(ctx)
	if err != nil {
		return "", "", err
	}
	if len(secret) < minSecret {
		return "", "", fmt.Errorf("secret for signing HMAC-SHA512/256 is expected to be 32 byte long, got %d byte", len(secret))
	}
	var key [32]byte
	copy(key[:], secret)
	n := max(c.cfg.GetTokenEntropy(ctx), minEntropy)
	var stack [64]byte
	raw := stack[:0]
	if n > len(stack) {
		raw = make([]byte, 0, n)
	}
	raw = raw[:n]
	if _, err := rand.Read(raw); err != nil {
		return "", "", err
	}
	sig := b64.EncodeToString(c.mac(ctx, &key, raw))
	var b strings.Builder
	b.Grow(len(prefix) + b64.EncodedLen(n) + 1 + len(sig))
	b.WriteString(prefix)
	var enc [128]byte
	b.Write(b64.AppendEncode(enc[:0], raw))
	b.WriteByte('.')
	b.WriteString(sig)
	return b.String(), sig, nil
}

// validate is token/hmac.HMACStrategy.Validate: the global secret, then
// each rotated one.
func (c *codeTokens) validate(ctx context.Context, token string) error {
	secret, err := c.cfg.GetGlobalSecret(ctx)
	if err != nil {
		return err
	}
	rotated, err := c.cfg.GetRotatedGlobalSecrets(ctx)
	if err != nil {
		return err
	}
	keys := make([][]byte, 0, 1+len(rotated))
	if len(secret) > 0 {
		keys = append(keys, secret)
	}
	keys = append(keys, rotated...)
	if len(keys) == 0 {
		return errors.New("a secret for signing HMAC-SHA512/256 is expected to be defined, but none were")
	}
	for _, k := range keys {
		if err = c.validateWith(ctx, k, token); err == nil || !errors.Is(err, fosite.ErrTokenSignatureMismatch) {
			return err
		}
	}
	return err
}

func (c *codeTokens) validateWith(ctx context.Context, secret []byte, token string) error {
	if len(secret) < minSecret {
		return fmt.Errorf("secret for signing HMAC-SHA512/256 is expected to be 32 byte long, got %d byte", len(secret))
	}
	var key [32]byte
	copy(key[:], secret)
	raw, sig, ok := strings.Cut(token, ".")
	if !ok || raw == "" || sig == "" {
		return fosite.ErrInvalidTokenFormat
	}
	gotSig, err := b64.DecodeString(sig)
	if err != nil {
		return err
	}
	data, err := b64.DecodeString(raw)
	if err != nil {
		return err
	}
	if !hmac.Equal(c.mac(ctx, &key, data), gotSig) {
		return fosite.ErrTokenSignatureMismatch
	}
	return nil
}

// signature is token/hmac.HMACStrategy.Signature: what follows the one
// dot of token, "" unless it has exactly one.
func signature(token string) string {
	_, sig, ok := strings.Cut(token, ".")
	if !ok || strings.Contains(sig, ".") {
		return ""
	}
	return sig
}

const (
	codePrefix    = "ory_ac_"
	refreshPrefix = "ory_rt_"
)

// RefreshTokenSignature implements oauth2.RefreshTokenStrategy.
func (c *codeTokens) RefreshTokenSignature(_ context.Context, token string) string {
	return signature(token)
}

// GenerateRefreshToken implements oauth2.RefreshTokenStrategy.
func (c *codeTokens) GenerateRefreshToken(ctx context.Context, _ fosite.Requester) (string, string, error) {
	return c.generate(ctx, refreshPrefix)
}

// ValidateRefreshToken implements oauth2.RefreshTokenStrategy: not
// expired (no expiry: unlimited), then the HMAC.
func (c *codeTokens) ValidateRefreshToken(ctx context.Context, r fosite.Requester, token string) error {
	if exp := r.GetSession().GetExpiresAt(fosite.RefreshToken); !exp.IsZero() && exp.Before(time.Now().UTC()) {
		return fosite.ErrTokenExpired.WithHintf("Refresh token expired at '%s'.", exp)
	}
	return c.validate(ctx, strings.TrimPrefix(token, refreshPrefix))
}

// AuthorizeCodeSignature implements oauth2.AuthorizeCodeStrategy.
func (c *codeTokens) AuthorizeCodeSignature(_ context.Context, token string) string {
	return signature(token)
}

// GenerateAuthorizeCode implements oauth2.AuthorizeCodeStrategy.
func (c *codeTokens) GenerateAuthorizeCode(ctx context.Context, _ fosite.Requester) (string, string, error) {
	return c.generate(ctx, codePrefix)
}

// ValidateAuthorizeCode implements oauth2.AuthorizeCodeStrategy: not
// expired (no expiry: the request's time plus the code lifespan), then
// the HMAC.
func (c *codeTokens) ValidateAuthorizeCode(ctx context.Context, r fosite.Requester, token string) error {
	exp := r.GetSession().GetExpiresAt(fosite.AuthorizeCode)
	if exp.IsZero() {
		if until := r.GetRequestedAt().Add(c.cfg.GetAuthorizeCodeLifespan(ctx)); until.Before(time.Now().UTC()) {
			return fosite.ErrTokenExpired.WithHintf("Authorize code expired at '%s'.", until)
		}
	} else if exp.Before(time.Now().UTC()) {
		return fosite.ErrTokenExpired.WithHintf("Authorize code expired at '%s'.", exp)
	}
	return c.validate(ctx, strings.TrimPrefix(token, codePrefix))
}
