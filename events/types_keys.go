package events

import (
	"encoding/json"
	"time"
)

// This file holds the payloads of the signing keys' lifecycle
// (next → active → retired → removed, see package jwks). Keys are global to
// the issuer: their aggregates live in tenant KeyTenant, one per key, with
// the key's "kid" (RFC 7517 §4.5) as the aggregate ID. No payload carries a
// private key in the clear.

// KeyTenant is the tenant of every key aggregate.
const KeyTenant = "system"

// KeyRef is the aggregate of the signing key kid.
func KeyRef(kid string) Ref { return Ref{Tenant: KeyTenant, Type: AggKey, ID: kid} }

// KeyCreated adds a signing key. It is published in the JWKS from
// PublishAt and may sign from ActivateAt, once a key.activated event says
// so. PrivateKeyEnc is the PKCS#8 DER of the private key sealed by package
// sealing (purpose signing-key, the kid as the record: "v1:" and base64 of
// nonce ‖ ciphertext ‖ tag; older events, with no marker, under the raw
// master key); PublicJWK is the public key
// as a JWK (RFC 7517 §4) carrying kid, alg (RFC 7518 §3.1) and use "sig".
type KeyCreated struct {
	KID           string          `json:"kid"`
	Alg           string          `json:"alg"`
	PublicJWK     json.RawMessage `json:"public_jwk"`
	PrivateKeyEnc string          `json:"private_key_enc"`
	CreatedAt     time.Time       `json:"created_at"`
	PublishAt     time.Time       `json:"publish_at"`
	ActivateAt    time.Time       `json:"activate_at"`
}

// KeyActivated makes a key the one that signs; the key it replaces is
// retired in the same append, so exactly one key is active.
type KeyActivated struct {
	KID string `json:"kid"`
}

// KeyRetired stops a key from signing. It stays published until
// RemoveAfter = RetiredAt + the longest token lifetime + the JWKS cache
// lifetime, so every token it signed can still be verified.
type KeyRetired struct {
	KID         string    `json:"kid"`
	RetiredAt   time.Time `json:"retired_at"`
	RemoveAfter time.Time `json:"remove_after"`
}

// KeyRemoved takes a key out of the JWKS and out of every keyring for good.
type KeyRemoved struct {
	KID string `json:"kid"`
}
