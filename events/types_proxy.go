package events

import "time"

// This file holds the payloads of the use of vault credentials (API.md
// "Upstream credentials (the vault)" → "Use", package proxy).

// AggCredentialUsage is the aggregate of a credential's use counters, on
// the high-volume stream (kept by age like token mints): one aggregate
// per credential, app and minute, id "<credential id>/<app id>/<minute
// as Unix seconds>/<instance>", so each instance writes its own counts
// without contending with the others.
const AggCredentialUsage = "credusage"

// CredentialUsed counts one minute of an app's use of a credential on
// one instance: proxied requests by outcome and token exchanges. It is
// written once per (credential, app, minute, instance) that saw any use,
// not once per request.
type CredentialUsed struct {
	CredentialID string    `json:"credential_id"`
	AppID        string    `json:"app_id"`
	Minute       time.Time `json:"minute"`
	Instance     string    `json:"instance"`
	// Requests counts proxied requests answered; Upstream5xx those the
	// upstream answered 5xx; Failed those that reached no answer
	// (refused, transport errors, rate-limited); Refreshes the refreshes
	// an upstream 401 caused; Exchanges the token exchanges.
	Requests    int64 `json:"requests"`
	Upstream5xx int64 `json:"upstream_5xx"`
	Failed      int64 `json:"failed"`
	Refreshes   int64 `json:"refreshes"`
	Exchanges   int64 `json:"exchanges"`
	// BytesIn and BytesOut are the request and answer bodies streamed.
	BytesIn  int64 `json:"bytes_in"`
	BytesOut int64 `json:"bytes_out"`
}
