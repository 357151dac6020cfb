package events

import "time"

// Idempotency-Key records (API.md "Conventions"): a POST with a key first
// claims the key's aggregate (expecting it new), runs, then records its
// answer so a repeat within 24 h replays it. The answer's body is sealed
// with the master key: it may hold a secret shown once (a client secret).

// IdempotencyStarted claims a key for one request.
type IdempotencyStarted struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// Fingerprint is "hmac:" and the base64 of the body's HMAC-SHA256
	// under a key of the master key (sealing.IdempotencyFingerprint); an
	// earlier release wrote the base64 of its plain SHA-256.
	Fingerprint string `json:"fingerprint"`
	// RetainSeconds (schema 2) is how long the key's record, and the
	// answer it replays, is kept after the key's last event: the
	// projections drop it then (by the log's clock). 0, and every version
	// 1 event, means DefaultIdempotencyRetention.
	RetainSeconds int64 `json:"retain_seconds,omitempty"`
}

// DefaultIdempotencyRetention is how long an Idempotency-Key's answer is
// replayed (API.md "Conventions": 24 h).
const DefaultIdempotencyRetention = 24 * time.Hour

// Retention is how long the key's record is kept after its last event.
func (p IdempotencyStarted) Retention() time.Duration {
	return secondsOr(p.RetainSeconds, DefaultIdempotencyRetention)
}

// IdempotencyCompleted records the answer of the request that holds the key.
type IdempotencyCompleted struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type"`
	ETag        string `json:"etag,omitempty"`
	Location    string `json:"location,omitempty"`
	BodySealed  string `json:"body_sealed"` // sealed by package sealing (purpose idempotency-answer, the aggregate as the record)
}

// IdempotencyReleased frees a key whose answer asked for a retry (a
// server error, a 429, a 409 of a lost race), so the client may retry it.
type IdempotencyReleased struct {
	Status int `json:"status"`
}
