package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// KindDelivery is the document kind of webhook deliveries, by delivery id
// (the webhook-id header). A delivery document's Tenant is the list
// partition "<tenant>/<webhook id>" (see deliveryPartition) so a webhook's
// deliveries list without reading the tenant's others; Sort orders them
// newest first.
const KindDelivery = "delivery"

// kindDeliveryDue is the dispatcher's schedule: one document per delivery
// that may need an attempt, all in the partition dueTenant, sorted by the
// time from which it is due (the next attempt, or the end of the lease of
// the instance attempting it).
const kindDeliveryDue = "delivery_due"

const dueTenant = "_due"

// kindWebhookHealth tracks, per webhook, since when every delivery has
// failed (reduced from the high-volume stream only, so a rebuild gives
// the same answer whatever the interleaving of the streams).
const kindWebhookHealth = "webhook_health"

// Delivery is one event's delivery to one webhook.
type Delivery struct {
	ID            string            `json:"id"`
	Tenant        string            `json:"tenant"`
	WebhookID     string            `json:"webhook_id"`
	AppID         string            `json:"app_id"`
	EventID       string            `json:"event_id"`
	EventType     string            `json:"event_type"`
	Scope         string            `json:"scope"`
	Status        string            `json:"status"` // pending | retrying | delivered | failed
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
	NextAttemptAt *time.Time        `json:"next_attempt_at,omitempty"`
	Attempts      []DeliveryAttempt `json:"attempts"`
	// Body is the JSON the delivery POSTs; it is dropped once delivered.
	Body json.RawMessage `json:"body,omitempty"`
	// LeaseUntil and Instance: who is attempting it now, until when.
	LeaseUntil time.Time `json:"lease_until"`
	Instance   string    `json:"instance,omitempty"`
	// ClaimSeq is the sequence of the delivery's last delivery.claimed:
	// the next claim expects it (0: never claimed).
	ClaimSeq uint64 `json:"claim_seq"`
}

// DeliveryAttempt is one attempt of a delivery.
type DeliveryAttempt struct {
	N            int       `json:"n"`
	At           time.Time `json:"at"`
	StatusCode   int       `json:"status_code"`
	DurationMS   int64     `json:"duration_ms"`
	ErrorClass   string    `json:"error_class,omitempty"`
	Error        string    `json:"error,omitempty"`
	ResponseBody string    `json:"response_body,omitempty"`
}

// DueDelivery is one entry of the dispatcher's schedule.
type DueDelivery struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	WebhookID string    `json:"webhook_id"`
	Due       time.Time `json:"due"`
}

// WebhookHealth says since when every delivery to a webhook failed.
type WebhookHealth struct {
	FailingSince *time.Time `json:"failing_since,omitempty"`
	LastSuccess  *time.Time `json:"last_success,omitempty"`
}

func (d Delivery) clone() Delivery {
	d.Attempts = slices.Clone(d.Attempts)
	return d
}

var (
	_ = on(applyDeliveryCreated)
	_ = on(applyDeliveryClaimed)
	_ = on(applyDeliveryAttempted)
)

func deliveryPartition(tenant, webhookID string) string { return tenant + "/" + webhookID }

// newestFirst is a Sort value that orders later times first.
func newestFirst(t time.Time) string {
	return fmt.Sprintf("%019d", math.MaxInt64-t.UnixNano())
}

func applyDeliveryCreated(tx Tx, e events.Event, p *events.DeliveryCreated) error {
	if _, err := tx.Get(KindDelivery, e.Aggregate.ID); err == nil {
		return nil // created again by a redelivered event: the first stands
	}
	now := e.Time
	d := Delivery{ID: e.Aggregate.ID, Tenant: e.Tenant(), WebhookID: p.WebhookID, AppID: p.AppID,
		EventID: p.EventID, EventType: p.Type, Scope: p.Scope, Status: "pending", CreatedAt: e.Time,
		NextAttemptAt: &now, Attempts: []DeliveryAttempt{}, Body: p.Body, LeaseUntil: p.LeaseUntil, Instance: p.Instance}
	return putDelivery(tx, e, d)
}

func applyDeliveryClaimed(tx Tx, e events.Event, p *events.DeliveryClaimed) error {
	d, err := loadDelivery(tx, e)
	if err != nil {
		return err
	}
	d.ClaimSeq, d.LeaseUntil, d.Instance = e.Seq, p.LeaseUntil, p.Instance
	if p.Manual && d.Status == "failed" {
		d.Status = "retrying"
	}
	return putDelivery(tx, e, d)
}

func applyDeliveryAttempted(tx Tx, e events.Event, p *events.DeliveryAttempted) error {
	d, err := loadDelivery(tx, e)
	if err != nil {
		return err
	}
	d.Attempts = append(d.Attempts, DeliveryAttempt{N: p.Attempt, At: p.At, StatusCode: p.StatusCode,
		DurationMS: p.DurationMS, ErrorClass: p.ErrorClass, Error: p.Error, ResponseBody: p.ResponseBody})
	d.Status, d.NextAttemptAt, d.LeaseUntil, d.Instance = p.Outcome, p.NextAttemptAt, time.Time{}, ""
	if d.Status == "delivered" {
		d.Body = nil
	}
	if err := recordHealth(tx, d, p); err != nil {
		return err
	}
	return putDelivery(tx, e, d)
}

// recordHealth keeps the webhook's failing streak.
func recordHealth(tx Tx, d Delivery, p *events.DeliveryAttempted) error {
	var h WebhookHealth
	if doc, err := tx.Get(kindWebhookHealth, d.WebhookID); err == nil {
		if h, err = decode[WebhookHealth](doc); err != nil {
			return err
		}
	}
	at := p.At
	if p.ErrorClass == "" {
		h.LastSuccess, h.FailingSince = &at, nil
	} else if h.FailingSince == nil {
		h.FailingSince = &at
	}
	return putJSON(tx, Doc{Kind: kindWebhookHealth, ID: d.WebhookID, Tenant: d.Tenant}, h)
}

func loadDelivery(tx Tx, e events.Event) (Delivery, error) {
	doc, err := tx.Get(KindDelivery, e.Aggregate.ID)
	if err != nil {
		return Delivery{}, fmt.Errorf("projections: %s for delivery %s: %w", e.Type, e.Aggregate.ID, err)
	}
	d, err := decodeCached(tx, doc, Delivery.clone)
	if err == nil && d.Tenant != e.Tenant() {
		return Delivery{}, fmt.Errorf("projections: %s of tenant %s for delivery %s of tenant %s", e.Type, e.Tenant(), d.ID, d.Tenant)
	}
	return d, err
}

// putDelivery stores d and its place in the schedule.
func putDelivery(tx Tx, e events.Event, d Delivery) error {
	d.UpdatedAt = e.Time
	due := d.LeaseUntil
	if d.NextAttemptAt != nil && d.NextAttemptAt.After(due) {
		due = *d.NextAttemptAt
	}
	if d.Status == "delivered" || d.Status == "failed" && d.LeaseUntil.IsZero() {
		if err := tx.Delete(kindDeliveryDue, d.ID); err != nil && !isNotFound(err) {
			return err
		}
	} else if err := putJSON(tx, Doc{Kind: kindDeliveryDue, ID: d.ID, Tenant: dueTenant, Sort: SortTime(due)},
		DueDelivery{ID: d.ID, Tenant: d.Tenant, WebhookID: d.WebhookID, Due: due}); err != nil {
		return err
	}
	return putCached(tx, Doc{Kind: KindDelivery, ID: d.ID, Tenant: deliveryPartition(d.Tenant, d.WebhookID), Sort: newestFirst(d.CreatedAt)}, d)
}

// GetDelivery returns delivery id of tenant, or ErrNotFound.
func GetDelivery(ctx context.Context, r Reader, tenant, id string) (Delivery, error) {
	d, doc, err := getView[Delivery](ctx, r, KindDelivery, id)
	if err == nil && !strings.HasPrefix(doc.Tenant, tenant+"/") {
		return Delivery{}, fmt.Errorf("%w: delivery %q", ErrNotFound, id)
	}
	return d, err
}

// ListDeliveries returns a page of a webhook's deliveries, newest first.
func ListDeliveries(ctx context.Context, r Reader, tenant, webhookID string, p Page) ([]Delivery, string, error) {
	return listViews[Delivery](ctx, r, KindDelivery, deliveryPartition(tenant, webhookID), p)
}

// DueDeliveries returns up to limit entries of the schedule due at or
// before now, earliest first.
func DueDeliveries(ctx context.Context, r Reader, now time.Time, limit int) ([]DueDelivery, error) {
	page, _, err := listViews[DueDelivery](ctx, r, kindDeliveryDue, dueTenant, Page{Limit: limit})
	if err != nil {
		return nil, err
	}
	n := 0
	for n < len(page) && !page[n].Due.After(now) {
		n++
	}
	return page[:n], nil
}

// NextDue returns when the schedule's earliest entry is due (false when
// the schedule is empty).
func NextDue(ctx context.Context, r Reader) (time.Time, bool, error) {
	page, _, err := listViews[DueDelivery](ctx, r, kindDeliveryDue, dueTenant, Page{Limit: 1})
	if err != nil || len(page) == 0 {
		return time.Time{}, false, err
	}
	return page[0].Due, true, nil
}

// GetWebhookHealth returns the failing streak of webhook id (zero when it
// never had a delivery).
func GetWebhookHealth(ctx context.Context, r Reader, id string) (WebhookHealth, error) {
	h, _, err := getView[WebhookHealth](ctx, r, kindWebhookHealth, id)
	if isNotFound(err) {
		return WebhookHealth{}, nil
	}
	return h, err
}
