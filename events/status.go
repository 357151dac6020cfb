package events

// Statuses carried in payloads. Each is a named string type so the code
// compares and assigns constants, never literals; the values are part of
// the payloads' schema (golden files in testdata), so the type lives with
// the payloads and the projections keep it in their documents as it is.

// GrantStatus is where an app's request of a scope stands (ScopeGrant,
// and the app documents' scopes). A revoked scope reads GrantRejected
// (with the revocation's time, its kill switch).
type GrantStatus string

// Statuses of a scope grant.
const (
	GrantPending  GrantStatus = "pending"
	GrantApproved GrantStatus = "approved"
	GrantRejected GrantStatus = "rejected"
)

// WebhookStatus is whether a subscription receives deliveries.
type WebhookStatus string

// Statuses of a webhook subscription.
const (
	WebhookStatusActive   WebhookStatus = "active"
	WebhookStatusDisabled WebhookStatus = "disabled"
)

// DeliveryStatus is where a webhook delivery stands. An attempt's outcome
// (DeliveryAttempted.Outcome) is one of DeliveryDelivered,
// DeliveryRetrying and DeliveryFailed; a delivery not attempted yet is
// DeliveryPending.
type DeliveryStatus string

// Statuses of a delivery.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryRetrying  DeliveryStatus = "retrying"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed"
)

// Terminal reports whether no attempt follows by itself (delivered or
// failed; a failed one may still be retried by hand).
func (s DeliveryStatus) Terminal() bool { return s == DeliveryDelivered || s == DeliveryFailed }
