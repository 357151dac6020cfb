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
	ID            string                `json:"id"`
	Tenant        string                `json:"tenant"`
	WebhookID     string                `json:"webhook_id"`
	AppID         string                `json:"app_id"`
	EventID       string                `json:"event_id"`
	EventType     string                `json:"event_type"`
	Scope         string                `json:"scope"`
	Status        events.DeliveryStatus `json:"status"`
	CreatedAt     time.Time             `json:"created_at"`
	UpdatedAt     time.Time             `json:"updated_at"`
	NextAttemptAt *time.Time            `json:"next_attempt_at,omitempty"`
	Attempts      []DeliveryAttempt     `json:"attempts"`
	// Body is the JSON the delivery POSTs; it is dropped once delivered.
	Body json.RawMessage `json:"body,omitempty"`
	// LeaseUntil and Instance: who is attempting it now, until when.
	LeaseUntil time.Time `json:"lease_until"`
	Instance   string    `json:"instance,omitempty"`
	// ClaimSeq is the sequence of the delivery's last delivery.claimed:
	// the next claim expects it (0: never claimed).
	ClaimSeq uint64 `json:"claim_seq"`
	// CreatedSeq is the sequence of its delivery.created, where the body
	// is found again once dropped (a manual retry of a failed delivery).
	CreatedSeq uint64 `json:"created_seq"`
	// Keep and RetainSeconds are its retention (delivery.created); Slot
	// its place among the webhook's deliveries (deliveryRing); Evicted is
	// set once more than Keep newer ones exist while it was not terminal
	// yet: it goes when it becomes so.
	Keep          int    `json:"keep"`
	RetainSeconds int64  `json:"retain_seconds"`
	Slot          string `json:"slot,omitempty"`
	Evicted       bool   `json:"evicted,omitempty"`
}

// Terminal reports whether no attempt of d is to come but a manual retry.
func (d Delivery) Terminal() bool { return d.Status.Terminal() }

// DeliveryAttempt is one attempt of a delivery.
type DeliveryAttempt struct {
	N int `json:"n"`
	events.DeliveryResult
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
	if doc, err := peekDoc(tx, KindDelivery, e.Aggregate.ID); err != nil || doc != nil {
		return err // doc: created again by a redelivered event, the first stands
	}
	now := e.Time
	d := Delivery{ID: e.Aggregate.ID, Tenant: e.Tenant(), WebhookID: p.WebhookID, AppID: p.AppID,
		EventID: p.EventID, EventType: p.Type, Scope: p.Scope, Status: events.DeliveryPending, CreatedAt: e.Time,
		NextAttemptAt: &now, Attempts: []DeliveryAttempt{}, Body: p.Body, LeaseUntil: p.LeaseUntil, Instance: p.Instance,
		CreatedSeq: e.Seq, Keep: p.KeepCount(), RetainSeconds: int64(p.Retention() / time.Second)}
	ring, err := nextSlot(tx, e, &d)
	if err != nil {
		return err
	}
	if err := putDelivery(tx, e, d); err != nil {
		return err
	}
	return evict(tx, d, ring)
}

func applyDeliveryClaimed(tx Tx, e events.Event, p *events.DeliveryClaimed) error {
	d, err := loadDelivery(tx, e)
	if err != nil {
		return err
	}
	d.ClaimSeq, d.LeaseUntil, d.Instance = e.Seq, p.LeaseUntil, p.Instance
	if p.Manual && d.Status == events.DeliveryFailed {
		d.Status = events.DeliveryRetrying
		if err := KeepForever(tx, KindDelivery, d.ID); err != nil {
			return err
		}
	}
	return putDelivery(tx, e, d)
}

func applyDeliveryAttempted(tx Tx, e events.Event, p *events.DeliveryAttempted) error {
	d, err := loadDelivery(tx, e)
	if err != nil {
		return err
	}
	d.Attempts = append(d.Attempts, DeliveryAttempt{N: p.Attempt, DeliveryResult: p.DeliveryResult})
	d.Status, d.NextAttemptAt, d.LeaseUntil, d.Instance = p.Outcome, p.NextAttemptAt, time.Time{}, ""
	if err := recordHealth(tx, e, d, p); err != nil {
		return err
	}
	if !d.Terminal() {
		return putDelivery(tx, e, d)
	}
	d.Body = nil
	if d.Evicted {
		return dropDelivery(tx, d.ID)
	}
	if err := putDelivery(tx, e, d); err != nil {
		return err
	}
	return ExpireAt(tx, events.HighVolume, KindDelivery, d.ID, e.Time.Add(d.retention()))
}

func (d Delivery) retention() time.Duration { return time.Duration(d.RetainSeconds) * time.Second }

// recordHealth keeps the webhook's failing streak, for the deliveries'
// retention after the last attempt. An attempt that sent nothing
// (DeliveryResult.Unsent: the webhook disabled, its app not permitted, …)
// says nothing of the endpoint and leaves the streak as it is.
func recordHealth(tx Tx, e events.Event, d Delivery, p *events.DeliveryAttempted) error {
	if p.Unsent() {
		return nil
	}
	var h WebhookHealth
	if doc, err := peekDoc(tx, kindWebhookHealth, d.WebhookID); err != nil {
		return err
	} else if doc != nil {
		if h, err = decode[WebhookHealth](*doc); err != nil {
			return err
		}
	}
	at := p.At
	if p.ErrorClass == "" {
		h.LastSuccess, h.FailingSince = &at, nil
	} else if h.FailingSince == nil {
		h.FailingSince = &at
	}
	return putPerWebhook(tx, e, &d, kindWebhookHealth, h)
}

// putPerWebhook stores v as d's webhook's document of kind (its health,
// its delivery ring), kept for the delivery retention from e.
func putPerWebhook(tx Tx, e events.Event, d *Delivery, kind string, v any) error {
	if err := putJSON(tx, Doc{Kind: kind, ID: d.WebhookID, Tenant: d.Tenant}, v); err != nil {
		return err
	}
	return ExpireAt(tx, events.HighVolume, kind, d.WebhookID, e.Time.Add(d.retention()))
}

// loadDelivery reads the delivery event e is about. Not loadView: a
// delivery's document is filed under its webhook (Doc.Tenant is
// "tenant/webhook"), so the tenant to check is the view's own.
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
	if d.Status == events.DeliveryDelivered || d.Status == events.DeliveryFailed && d.LeaseUntil.IsZero() {
		if err := tx.Delete(kindDeliveryDue, d.ID); err != nil && !isNotFound(err) {
			return err
		}
	} else if err := putJSON(tx, Doc{Kind: kindDeliveryDue, ID: d.ID, Tenant: dueTenant, Sort: SortTime(due)},
		DueDelivery{ID: d.ID, Tenant: d.Tenant, WebhookID: d.WebhookID, Due: due}); err != nil {
		return err
	}
	return putCached(tx, deliveryDoc(d), d)
}

// deliveryDoc is the document of d, without its body.
func deliveryDoc(d Delivery) Doc {
	doc := Doc{Kind: KindDelivery, ID: d.ID, Tenant: deliveryPartition(d.Tenant, d.WebhookID), Sort: newestFirst(d.CreatedAt)}
	if d.Slot != "" {
		doc.Keys = []string{d.Slot}
	}
	return doc
}

// dropDelivery deletes delivery id, its place in the schedule and its
// expiry.
func dropDelivery(tx Tx, id string) error {
	for _, kind := range []string{KindDelivery, kindDeliveryDue} {
		if err := tx.Delete(kind, id); err != nil && !isNotFound(err) {
			return err
		}
	}
	return KeepForever(tx, KindDelivery, id)
}

// GetDelivery returns delivery id of tenant, or ErrNotFound.
func GetDelivery(ctx context.Context, r Reader, tenant, id string) (Delivery, error) {
	d, doc, err := getView[Delivery](ctx, r, KindDelivery, id)
	if err == nil && !strings.HasPrefix(doc.Tenant, tenant+"/") {
		return Delivery{}, NotFound("delivery", id)
	}
	return d, err
}

// ListDeliveries returns a page of a webhook's deliveries, newest first.
func ListDeliveries(ctx context.Context, r Reader, tenant, webhookID string, p Page) ([]Delivery, string, error) {
	return listViews[Delivery](ctx, r, KindDelivery, deliveryPartition(tenant, webhookID), p)
}

// ListDue returns a page of the dispatcher's schedule, earliest due
// first, due or not, and the cursor of the next page ("" at its end).
func ListDue(ctx context.Context, r Reader, p Page) ([]DueDelivery, string, error) {
	return listViews[DueDelivery](ctx, r, kindDeliveryDue, dueTenant, p)
}

// dueEntry is an entry of a schedule (the deliveries' retries, the
// vault's refreshes): a view of the schedule's kind in the pseudo-tenant
// dueTenant, whose keys sort by the time it is due.
type dueEntry interface{ dueAt() time.Time }

// dueBy returns up to limit entries of schedule kind due at or before
// now, earliest first.
func dueBy[T dueEntry](ctx context.Context, r Reader, kind string, now time.Time, limit int) ([]T, error) {
	page, _, err := listViews[T](ctx, r, kind, dueTenant, Page{Limit: limit})
	if err != nil {
		return nil, err
	}
	n := 0
	for n < len(page) && !page[n].dueAt().After(now) {
		n++
	}
	return page[:n], nil
}

// firstDue returns when schedule kind's earliest entry is due (false
// when the schedule is empty).
func firstDue[T dueEntry](ctx context.Context, r Reader, kind string) (time.Time, bool, error) {
	page, _, err := listViews[T](ctx, r, kind, dueTenant, Page{Limit: 1})
	if err != nil || len(page) == 0 {
		return time.Time{}, false, err
	}
	return page[0].dueAt(), true, nil
}

// GetWebhookHealth returns the failing streak of webhook id (zero when it
// never had a delivery).
func GetWebhookHealth(ctx context.Context, r Reader, id string) (WebhookHealth, error) {
	return getViewOr(ctx, r, kindWebhookHealth, id, WebhookHealth{})
}

// kindDeliveryRing numbers each webhook's deliveries, by webhook id: the
// n-th delivery created holds the unique key "slot:<webhook>/<epoch>/<n>",
// so the Keep most recent are found without a list. Epoch is the
// sequence of the event that made the ring: a ring dropped by its
// retention (no delivery for that long) and made again numbers anew
// without meeting the keys of deliveries it left behind.
const kindDeliveryRing = "delivery_ring"

type deliveryRing struct {
	Epoch   uint64 `json:"epoch"`
	N       uint64 `json:"n"`
	Evicted uint64 `json:"evicted"` // slots 1..Evicted are past the count
}

func slotKey(webhookID string, epoch, n uint64) string {
	return fmt.Sprintf("slot:%s/%d/%d", webhookID, epoch, n)
}

// nextSlot gives d the webhook's next slot and stores the ring, kept for
// the deliveries' retention after this one.
func nextSlot(tx Tx, e events.Event, d *Delivery) (deliveryRing, error) {
	ring := deliveryRing{Epoch: e.Seq}
	if doc, err := peekDoc(tx, kindDeliveryRing, d.WebhookID); err != nil {
		return ring, err
	} else if doc != nil {
		if ring, err = decode[deliveryRing](*doc); err != nil {
			return ring, err
		}
	}
	for { // a free slot: one left by a dropped ring of the same epoch is skipped
		ring.N++
		d.Slot = slotKey(d.WebhookID, ring.Epoch, ring.N)
		if _, err := tx.Lookup(KindDelivery, d.Slot); isNotFound(err) {
			break
		} else if err != nil {
			return ring, err
		}
	}
	return ring, putPerWebhook(tx, e, d, kindDeliveryRing, ring)
}

// evict drops the webhook's deliveries beyond the newest d.Keep: at once
// when terminal, else when they become so (Evicted).
func evict(tx Tx, d Delivery, ring deliveryRing) error {
	if ring.Evicted+uint64(d.Keep) >= ring.N {
		return nil
	}
	for ring.Evicted+uint64(d.Keep) < ring.N {
		ring.Evicted++
		doc, err := tx.Lookup(KindDelivery, slotKey(d.WebhookID, ring.Epoch, ring.Evicted))
		if isNotFound(err) {
			continue // gone by age already
		}
		if err != nil {
			return err
		}
		if err := evictOne(tx, doc); err != nil {
			return err
		}
	}
	return putJSON(tx, Doc{Kind: kindDeliveryRing, ID: d.WebhookID, Tenant: d.Tenant}, ring)
}

func evictOne(tx Tx, doc Doc) error {
	old, err := decodeCached(tx, doc, Delivery.clone)
	if err != nil {
		return err
	}
	if old.Terminal() {
		return dropDelivery(tx, old.ID)
	}
	old.Evicted = true
	return putCached(tx, deliveryDoc(old), old)
}
