package events

import (
	"crypto/sha256"
	"encoding/json"
	"time"
)

// This file holds the payloads of webhooks (API.md "Webhooks"):
// subscriptions on the control stream, published events and deliveries on
// the high-volume stream. Webhook signing secrets are sealed with the
// master key (AES-256-GCM), never in the clear.

// WebhookCreated registers a subscription of an app (aggregate webhook).
type WebhookCreated struct {
	WebhookSettings
	SecretID     string `json:"secret_id"`
	SecretSealed string `json:"secret_sealed"`
}

// WebhookSettings are a subscription's app and the settings its owner
// chooses (API.md "Webhooks"), as webhook.created records them: one shape
// for the event, the webhooks projection's document and the API's
// Webhook object, which embed it (its members stay flat in their JSON).
type WebhookSettings struct {
	AppID       string        `json:"app_id"`
	URL         string        `json:"url"`
	Events      []string      `json:"events"`
	Description string        `json:"description"`
	Status      WebhookStatus `json:"status"`
}

// WebhookUpdated carries the fields a PATCH changed; nil did not change.
type WebhookUpdated struct {
	URL         *string        `json:"url,omitempty"`
	Events      *[]string      `json:"events,omitempty"`
	Description *string        `json:"description,omitempty"`
	Status      *WebhookStatus `json:"status,omitempty"`
}

// WebhookDeleted ends a subscription: nothing more is delivered to it.
type WebhookDeleted struct {
	AppID string `json:"app_id"`
}

// WebhookSecretRotated adds a signing secret; every older live secret
// ends at PreviousExpiresAt. Until then deliveries carry one signature per
// live secret.
type WebhookSecretRotated struct {
	SecretID          string    `json:"secret_id"`
	SecretSealed      string    `json:"secret_sealed"`
	PreviousExpiresAt time.Time `json:"previous_expires_at"`
}

// WebhookDisabled stops deliveries to an endpoint the server gave up on:
// Reason "gone" (it answered 410) or "failing" (every delivery failed for
// the disabling period). It is also a built-in deliverable event type.
type WebhookDisabled struct {
	AppID  string `json:"app_id"`
	URL    string `json:"url"`
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// EventPublished is a domain event an app published for fan-out
// (POST /v1/events; aggregate published, high-volume stream). WebhookID,
// when set, sends it to that subscription only (the test endpoint). Its
// envelope's ID is its aggregate id (the id POST /v1/events answers and
// events.DeliveryID is computed from): set Event.ID = Aggregate.ID.
type EventPublished struct {
	Type      string          `json:"type"`
	Data      json.RawMessage `json:"data"`
	AppID     string          `json:"app_id"`
	DedupeID  string          `json:"dedupe_id,omitempty"`
	WebhookID string          `json:"webhook_id,omitempty"`
	// ControlSeq (schema 2) is the control stream's last sequence read
	// after the publish request arrived: every subscription acknowledged
	// before it, through any instance, is at or below it, so the fan-out
	// waits for the projections to reach it. 0 in version 1 events.
	ControlSeq uint64 `json:"control_seq,omitempty"`
}

// DeliveryID is the id of the delivery of event eventID to webhook
// webhookID: the same on every instance and every redelivery of the
// event, so a delivery is created once. It is the webhook-id header.
func DeliveryID(eventID, webhookID string) string {
	sum := sha256.Sum256([]byte(eventID + "\x00" + webhookID))
	return "msg_" + encodeBase32(sum[:20])
}

// DeliveryCreated starts a delivery (aggregate delivery, id DeliveryID):
// Body is the exact JSON to POST. The creating instance holds it until
// LeaseUntil (its first attempt); after that any instance may claim it.
type DeliveryCreated struct {
	WebhookID  string          `json:"webhook_id"`
	AppID      string          `json:"app_id"`
	EventID    string          `json:"event_id"`
	Type       string          `json:"event_type"`
	Scope      string          `json:"scope"`
	Body       json.RawMessage `json:"body"`
	LeaseUntil time.Time       `json:"lease_until"`
	Instance   string          `json:"instance"`
	// Keep and RetainSeconds (schema 2) are the retention of the
	// webhook's deliveries as the creating instance was configured: the
	// projections keep the Keep most recent deliveries of the webhook and
	// drop a terminal one RetainSeconds after its last attempt (by the
	// log's clock). 0, and every version 1 event, means
	// DefaultDeliveryKeep and DefaultDeliveryRetention.
	Keep          int   `json:"keep,omitempty"`
	RetainSeconds int64 `json:"retain_seconds,omitempty"`
}

// Default retention of deliveries (GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_COUNT
// and _AGE).
const (
	DefaultDeliveryKeep      = 1000
	DefaultDeliveryRetention = 7 * 24 * time.Hour
)

// KeepCount is how many of the webhook's most recent deliveries are kept.
func (p DeliveryCreated) KeepCount() int {
	return positiveOr(p.Keep, DefaultDeliveryKeep)
}

// Retention is how long a terminal delivery is kept after its last
// attempt.
func (p DeliveryCreated) Retention() time.Duration {
	return secondsOr(p.RetainSeconds, DefaultDeliveryRetention)
}

// DeliveryClaimed gives one instance the delivery's next attempt until
// LeaseUntil. It is appended expecting the delivery's last claim, so two
// instances never claim one attempt. Manual marks a retry asked for
// through the API.
type DeliveryClaimed struct {
	Attempt    int       `json:"attempt"`
	LeaseUntil time.Time `json:"lease_until"`
	Instance   string    `json:"instance"`
	Manual     bool      `json:"manual,omitempty"`
}

// DeliveryAttempted records one attempt and where the delivery stands
// after it: Outcome delivered, retrying (NextAttemptAt set) or failed.
type DeliveryAttempted struct {
	Attempt int `json:"attempt"`
	DeliveryResult
	Outcome       DeliveryStatus `json:"outcome"`
	NextAttemptAt *time.Time     `json:"next_attempt_at,omitempty"`
}

// Error classes of an attempt that sent nothing to the endpoint
// (DeliveryResult.ErrorClass): the webhook was deleted or disabled, its
// app no longer holds the event's scope or is inactive, the body left the
// log, or no secret was live to sign with.
const (
	DeliveryWebhookDeleted  = "webhook_deleted"
	DeliveryWebhookDisabled = "webhook_disabled"
	DeliveryNotPermitted    = "not_permitted"
	DeliveryBodyGone        = "body_gone"
	DeliveryNoSecret        = "no_secret"
)

// Unsent reports whether the attempt sent nothing to the endpoint (one of
// the classes above), so that it says nothing of the endpoint's health.
func (r DeliveryResult) Unsent() bool {
	switch r.ErrorClass {
	case DeliveryWebhookDeleted, DeliveryWebhookDisabled, DeliveryNotPermitted, DeliveryBodyGone, DeliveryNoSecret:
		return true
	}
	return false
}

// DeliveryResult is what one attempt met at the endpoint, as
// delivery.attempted records it and the deliveries projection keeps it
// (its members stay flat in both JSON documents).
type DeliveryResult struct {
	At           time.Time `json:"at"`
	StatusCode   int       `json:"status_code"`
	DurationMS   int64     `json:"duration_ms"`
	ErrorClass   string    `json:"error_class,omitempty"`
	Error        string    `json:"error,omitempty"`
	ResponseBody string    `json:"response_body,omitempty"`
}
