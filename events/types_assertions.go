package events

import (
	"crypto/sha256"
	"time"
)

// Client assertions (RFC 7523 §3, OpenID Connect Core §9 private_key_jwt):
// each jti is used once. The log itself keeps that rule: the first use of
// a (client_id, jti) appends ClientAssertionUsed to the aggregate
// AssertionRef names, expecting it new, so of two instances racing on one
// jti exactly one append succeeds. The record guards the assertion until it
// expires (ExpiresAt); after that the assertion is refused for its exp
// claim alone, so nothing needs to keep the record (the high-volume stream
// keeps it for its retention age, far longer than any assertion's life).

// AssertionRef is the aggregate of the client assertion jti of client in
// tenant. The ID is a hash of both, so any jti fits a subject token.
func AssertionRef(tenant, clientID, jti string) Ref {
	sum := sha256.Sum256([]byte(clientID + "\x00" + jti))
	return Ref{Tenant: tenant, Type: AggAssertion, ID: "as-" + encodeBase32(sum[:20])}
}

// ClientAssertionUsed records that a client authenticated with the
// assertion jti, valid until ExpiresAt (its exp claim plus the accepted
// clock skew): a retention rule may drop the record once ExpiresAt has
// passed.
type ClientAssertionUsed struct {
	AppID     string    `json:"app_id"`
	ClientID  string    `json:"client_id"`
	JTI       string    `json:"jti"`
	ExpiresAt time.Time `json:"expires_at"`
}
