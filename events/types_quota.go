package events

import "time"

// Quotas (webhooks per app) are held through the log, not only by the
// projection read before an append: every append that takes one of an
// owner's slots also appends quota.counted to the owner's quota
// aggregate, expecting the version the decision read. Two concurrent
// takers expect the same version and only one append succeeds; the other
// catches up and decides again against the new count.

// QuotaCounted records that Owner now holds Count of Kind (after the
// append it belongs to).
type QuotaCounted struct {
	Kind  string `json:"kind"`
	Owner string `json:"owner"`
	Count int    `json:"count"`
	// Exact: Count is kept by every taker and every releaser (a deletion
	// appends Count-1), so the next taker reads it instead of counting.
	// Absent (false) in older events, whose Count was what that taker
	// counted: the next taker counts again, once. Credentials only.
	Exact bool `json:"exact,omitempty"`
	// Reserve holds a slot for a pending approval activity until it is
	// released or its Until passes (an expired activity frees its slot
	// without an event).
	Reserve *QuotaReservation `json:"reserve,omitempty"`
	// Release ends the hold of that activity (rejected, completed: a
	// completed create's credential is counted in Count instead).
	Release string `json:"release,omitempty"`
}

// QuotaReservation is a slot held for activity ID until Until.
type QuotaReservation struct {
	ID    string    `json:"id"`
	Until time.Time `json:"until"`
}

// AggQuota is the aggregate type of quota counters.
const AggQuota = "quota"

// QuotaWebhooks is the Kind of the webhooks-per-app quota.
const QuotaWebhooks = "webhooks"

// QuotaRef is the aggregate counting owner's kind within tenant.
func QuotaRef(tenant, kind, owner string) Ref {
	return Ref{Tenant: tenant, Type: AggQuota, ID: kind + "-" + owner}
}
