// Package sealing owns every key derived from the master key and every
// value encrypted with one: the one place that knows how Gatehouse keeps a
// secret at rest.
//
// Keys (New) holds the 32-byte master key. Keys.Purpose gives the Sealer
// of one purpose (a signing key's private part, a webhook secret, a
// recorded idempotent answer, a pending bootstrap secret), keyed with
// HKDF-SHA256 of the master key with the purpose in the info, so a value
// sealed for one purpose never opens as another's. A Sealer encrypts with
// AES-256-GCM, a random 96-bit nonce, and the identity of the record as
// additional data (a kid, a webhook secret's ids, an aggregate), so a
// sealed value copied onto another record does not open. Keys.Key derives
// the keys that are not sealing keys (the client-secret HMAC, fosite's
// global secret) with their labels.
//
// A sealed value is versioned: "v1:" and the standard base64 of nonce ‖
// ciphertext ‖ tag. Values written before this package (version 0: the
// same base64 with no marker) still open, under the key their purpose used
// then: the raw master key for signing keys, webhook secrets and the
// pending bootstrap secret, HKDF info "gatehouse idempotency v1" for
// idempotent answers. New values are always version 1. A later key
// rotation or algorithm takes the next marker beside these.
//
// Errors never carry a key, a plaintext or a ciphertext; Keys and Sealer
// print as "redacted" through fmt and slog.
package sealing
