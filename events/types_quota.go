package events

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
}

// AggQuota is the aggregate type of quota counters.
const AggQuota = "quota"

// QuotaWebhooks is the Kind of the webhooks-per-app quota.
const QuotaWebhooks = "webhooks"

// QuotaRef is the aggregate counting owner's kind within tenant.
func QuotaRef(tenant, kind, owner string) Ref {
	return Ref{Tenant: tenant, Type: AggQuota, ID: kind + "-" + owner}
}
