// Package jwks holds Gatehouse's signing keys: their generation, their
// encryption at rest, their lifecycle and the key set it publishes.
//
// It exists because a token is only as trustworthy as the key that signs
// it, and the keys must change without breaking anyone: access tokens are
// JWTs (RFC 9068) that resource servers verify offline against the JWK Set
// (RFC 7517 §5) they fetched and cached from /.well-known/jwks.json. So a
// key moves through next → active → retired → removed:
//
//   - next: published in the JWKS, not signing yet. It stays so for at
//     least the JWKS cache lifetime, so every verifier has it before the
//     first token it signs arrives.
//   - active: the one key of its family that signs (exactly one at a
//     time).
//   - retired: no longer signs, still published until every token it signed
//     has expired (retired_at + longest token lifetime + JWKS cache
//     lifetime).
//   - removed: gone from the JWKS and from every keyring.
//
// The keys form one family per algorithm (Config.Alg, the primary, whose
// key signs access tokens, and Config.IDTokenAlgs), each with its own
// lifecycle; Keyring.ActiveFor picks a family's signer.
//
// Each step is an event on the key's aggregate (events.KeyCreated,
// KeyActivated, KeyRetired, KeyRemoved). The Rotator decides the steps from
// the key documents and an injected clock (plan is a pure function) and
// appends them with optimistic concurrency, so when several instances race
// only one rotation is written.
//
// Private keys are sealed by package sealing (purpose signing-key, the kid
// as the record; Seal, Open) before they enter the log; they are in the
// clear only in memory, in a Keyring. The Keyring decrypts each key once and serves signing,
// verification and the JWKS bytes from an immutable snapshot behind an
// atomic pointer: the signing and JWKS paths take no lock, decrypt nothing
// and encode no key set per request.
package jwks
