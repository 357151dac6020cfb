package sealing

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// MasterKeySize is the size of the master key in bytes.
const MasterKeySize = 32

// Errors. Callers test them with errors.Is; their text never holds a key,
// a plaintext or a ciphertext.
var (
	// ErrMasterKey: the master key is not MasterKeySize bytes.
	ErrMasterKey = errors.New("sealing: the master key must be 32 bytes")
	// ErrSealed: a sealed value cannot be opened: malformed, of an unknown
	// version, sealed for another purpose or another record (aad), under
	// another master key, or altered.
	ErrSealed = errors.New("sealing: cannot open sealed value")
)

// Purpose names what a Sealer seals. Each purpose has a key of its own,
// derived from the master key, so a value sealed for one purpose never
// opens as another's. A purpose also says how values sealed before
// versioned sealing (version 0, see Open) were keyed.
type Purpose string

// The purposes of the server.
const (
	// SigningKey: the PKCS#8 DER of a signing key's private key; aad is
	// the kid. Version 0: the raw master key.
	SigningKey Purpose = "signing-key"
	// WebhookSecret: the raw HMAC key of a webhook secret; aad is
	// "<webhook id>/<secret id>". Version 0: the raw master key.
	WebhookSecret Purpose = "webhook-secret"
	// IdempotencyAnswer: a recorded answer to a POST with an
	// Idempotency-Key; aad is the key's aggregate (events.Ref.String).
	// Version 0: HKDF-SHA256 of the master key, info "gatehouse
	// idempotency v1".
	IdempotencyAnswer Purpose = "idempotency-answer"
	// BootstrapSecret: a generated bootstrap admin secret waiting in the
	// data directory to be printed. Version 0: the raw master key.
	BootstrapSecret Purpose = "bootstrap-secret"
	// PasswordHash: the argon2id PHC string of a user's password; aad is
	// the user id. No version 0 values.
	PasswordHash Purpose = "password-hash"
	// CredentialSecret: an upstream credential's client secret or its
	// resource owner's password (package vault); aad is "<credential
	// id>/client_secret" or "<credential id>/password". No version 0
	// values.
	CredentialSecret Purpose = "credential-secret"
	// CredentialTokens: a token set an upstream provider issued (its JSON:
	// access and refresh token); aad is "<credential id>/v<version>". No
	// version 0 values.
	CredentialTokens Purpose = "credential-tokens"
	// VaultKey: a tenant's HPKE private key (the vault's encryption key,
	// its RFC 9180 serialization); aad is "<tenant>/<kid>". No version 0
	// values.
	VaultKey Purpose = "vault-hpke-key"
	// ConsoleSession: the admin console's session cookie (the person's
	// tokens, a one-time flash message) and its pending sign-in (state,
	// nonce, PKCE verifier); aad is the cookie's name. No version 0
	// values.
	ConsoleSession Purpose = "console-session"
)

// legacyKeying says how version 0 values of a purpose were keyed: with
// the raw master key (rawMaster), with HKDF info, or not at all (none:
// the purpose has no version 0 values).
type legacyKeying struct {
	rawMaster bool
	info      string
}

var legacy = map[Purpose]legacyKeying{
	SigningKey:        {rawMaster: true},
	WebhookSecret:     {rawMaster: true},
	BootstrapSecret:   {rawMaster: true},
	IdempotencyAnswer: {info: "gatehouse idempotency v1"},
}

// Label names a key derived from the master key for a use other than
// sealing (Keys.Key). The labels are HKDF info strings; changing one
// changes the key.
type Label string

// The derived keys that are not sealing keys.
const (
	// ClientSecretHMAC keys the HMAC-SHA256 that client secrets are
	// stored as.
	ClientSecretHMAC Label = "gatehouse client-secret hmac v1"
	// FositeGlobalSecret is fosite's global secret: the HMAC of its
	// opaque tokens, authorization codes and refresh tokens (the log holds
	// the SHA-256 of their signatures only; access tokens are JWTs).
	FositeGlobalSecret Label = "gatehouse fosite global secret v1"
	// SessionHMAC keys the HMAC of a browser session cookie's secret,
	// which is the session's id in the log (package idp).
	SessionHMAC Label = "gatehouse session hmac v1"
	// CSRFKey keys the HMAC binding a hosted form's CSRF token to the
	// browser's session, or before one to its CSRF cookie and the page's
	// request (package idp).
	CSRFKey Label = "gatehouse csrf v1"
	// IdempotencyFingerprint keys the HMAC of a request body that an
	// Idempotency-Key's record holds in the log (package authz): a body
	// may hold a password, which a plain hash would expose to a guess.
	IdempotencyFingerprint Label = "gatehouse idempotency fingerprint v1"
)

// version1 marks a value sealed by this package: "v1:" then standard
// base64 of nonce ‖ ciphertext ‖ tag, AES-256-GCM under the purpose's key
// (HKDF-SHA256 of the master key, info sealInfo + purpose). ':' is not in
// the base64 alphabet, so no version 0 value carries a marker.
const (
	version1 = "v1"
	sealInfo = "gatehouse seal v1 "
)

// Keys holds the master key and derives every key from it. Its String
// and LogValue say nothing of the key.
type Keys struct {
	master [MasterKeySize]byte
}

// New returns the keys of master, which it copies (the caller may clear
// its slice).
func New(master []byte) (*Keys, error) {
	if len(master) != MasterKeySize {
		return nil, ErrMasterKey
	}
	k := &Keys{}
	copy(k.master[:], master)
	return k, nil
}

// Key returns the 32-byte key of label: HKDF-SHA256 of the master key,
// no salt, label as info.
func (k *Keys) Key(label Label) []byte { return k.derive(string(label)) }

func (k *Keys) derive(info string) []byte {
	key, err := hkdf.Key(sha256.New, k.master[:], nil, info, MasterKeySize)
	if err != nil { // only for a length HKDF cannot give
		panic(err)
	}
	return key
}

// Purpose returns the Sealer of p.
func (k *Keys) Purpose(p Purpose) *Sealer {
	s := &Sealer{purpose: p, v1: newGCM(k.derive(sealInfo + string(p)))}
	if l, ok := legacy[p]; ok {
		if l.rawMaster {
			s.v0 = newGCM(bytes.Clone(k.master[:])) // newGCM clears its key
		} else {
			s.v0 = newGCM(k.derive(l.info))
		}
	}
	return s
}

// String keeps the key out of any %v, %s or %x.
func (k *Keys) String() string { return "sealing.Keys(redacted)" }

// GoString keeps the key out of %#v.
func (k *Keys) GoString() string { return k.String() }

// LogValue keeps the key out of slog.
func (k *Keys) LogValue() slog.Value { return slog.StringValue(k.String()) }

// newGCM returns AES-256-GCM under key, and clears key.
func newGCM(key []byte) cipher.AEAD {
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil { // only for a key that is not 16, 24 or 32 bytes
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

// Sealer seals and opens the values of one purpose. It is safe for
// concurrent use.
type Sealer struct {
	purpose Purpose
	v1      cipher.AEAD
	v0      cipher.AEAD // nil: the purpose has no version 0 values
}

// String keeps the keys out of any %v, %s or %x.
func (s *Sealer) String() string { return "sealing.Sealer(" + string(s.purpose) + ")" }

// GoString keeps the keys out of %#v.
func (s *Sealer) GoString() string { return s.String() }

// LogValue keeps the keys out of slog.
func (s *Sealer) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Purpose is what s seals.
func (s *Sealer) Purpose() Purpose { return s.purpose }

// Seal encrypts plain for the record aad (its identity: a kid, a webhook
// secret's ids, an aggregate), with a random 96-bit nonce, in the current
// version: "v1:" + standard base64 of nonce ‖ ciphertext ‖ tag.
func (s *Sealer) Seal(aad string, plain []byte) (string, error) {
	n := s.v1.NonceSize()
	buf := make([]byte, n, n+len(plain)+s.v1.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("sealing: %s: nonce: %w", s.purpose, err)
	}
	return version1 + ":" + base64.StdEncoding.EncodeToString(s.v1.Seal(buf, buf, plain, []byte(aad))), nil
}

// Open decrypts what Seal returned for the same purpose and aad under the
// same master key. A value without a version marker is version 0, sealed
// by the release before this package: standard base64 of nonce ‖
// ciphertext ‖ tag under the purpose's legacy key. Any failure is
// ErrSealed.
func (s *Sealer) Open(aad, sealed string) ([]byte, error) {
	version, body, ok := Version(sealed)
	var aead cipher.AEAD
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: %s: unknown version", ErrSealed, s.purpose)
	case version == 1:
		aead = s.v1
	case s.v0 == nil:
		return nil, fmt.Errorf("%w: %s: unversioned value, and the purpose has none", ErrSealed, s.purpose)
	default:
		aead = s.v0
	}
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: %s: malformed", ErrSealed, s.purpose)
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, raw[:n], raw[n:], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: not authentic", ErrSealed, s.purpose)
	}
	return plain, nil
}

// Version parses the version marker of a sealed value: "v<n>:" before
// its body. A value without one is version 0 (its body is the whole
// value). ok is false for a marker this build does not know.
func Version(sealed string) (version int, body string, ok bool) {
	marker, rest, found := strings.Cut(sealed, ":")
	if !found {
		return 0, sealed, true
	}
	if marker == version1 {
		return 1, rest, true
	}
	return 0, "", false
}
