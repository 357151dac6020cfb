package events

import "time"

// This file holds the payloads of pushed authorization requests (RFC
// 9126, POST /v1/oauth/par). A pushed request is named by the SHA-256 of
// its request_uri's random part, never by the request_uri itself: the
// log does not hold what would let a reader use it.

// AggPAR is a pushed authorization request, by the SHA-256 of its
// request_uri's random part (high-volume stream: it lives seconds).
const AggPAR = "par"

// PARPushed records a client's pushed authorization request: the
// authorization request's parameters (client authentication left out),
// bound to ClientID, usable until ExpiresAt.
type PARPushed struct {
	AppID     string              `json:"app_id"`
	ClientID  string              `json:"client_id"`
	Params    map[string][]string `json:"params"`
	ExpiresAt time.Time           `json:"expires_at"`
}

// PARUsed records the one use of a pushed request: the authorization
// code answering it was issued.
type PARUsed struct {
	UserID string `json:"user_id"`
}
