package projections

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// unreachableTx is a memTx whose reads of one kind fail as a store out of
// reach does.
type unreachableTx struct {
	memTx
	kind string
}

func (u unreachableTx) Get(kind, id string) (Doc, error) {
	if kind == u.kind {
		return Doc{}, fmt.Errorf("read %s: %w", kind, ErrUnavailable)
	}
	return u.memTx.Get(kind, id)
}

// TestRecordHealthKeepsHealthOnReadError: a webhook's health that cannot
// be read fails the apply (to be retried) instead of being replaced by a
// health that forgot since when the webhook fails; a missing one starts
// anew, kept for the delivery retention.
func TestRecordHealthKeepsHealthOnReadError(t *testing.T) {
	at := time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)
	d := Delivery{ID: "dlv_1", WebhookID: "wh_1", Tenant: "t1", RetainSeconds: 3600}
	e := events.Event{Time: at}
	failed := &events.DeliveryAttempted{DeliveryResult: events.DeliveryResult{At: at, ErrorClass: "timeout"}}

	tx := unreachableTx{memTx: memTx{docs: map[string]Doc{}}, kind: kindWebhookHealth}
	if err := recordHealth(tx, e, d, failed); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("recordHealth over an unreadable health: %v, want ErrUnavailable", err)
	}
	if len(tx.docs) != 0 {
		t.Fatalf("an unreadable health was written over: %v", tx.docs)
	}

	mem := memTx{docs: map[string]Doc{}}
	if err := recordHealth(mem, e, d, failed); err != nil {
		t.Fatalf("recordHealth with no health yet: %v", err)
	}
	doc, err := mem.Get(kindWebhookHealth, "wh_1")
	if err != nil {
		t.Fatal(err)
	}
	h, err := decode[WebhookHealth](doc)
	if err != nil || h.FailingSince == nil || !h.FailingSince.Equal(at) {
		t.Fatalf("health %+v (%v), want failing since %v", h, err, at)
	}
}

// TestReducersFailOnUnreadableDocuments: a reducer that reads a document
// to decide (does it exist? what does it hold?) fails the apply when the
// read fails, instead of taking the failure for "none" and writing over
// what is there: a delivery created again, the bootstrap, a view's
// creation, a webhook index (which would have lost every other webhook
// of the event type).
func TestReducersFailOnUnreadableDocuments(t *testing.T) {
	e := events.Event{Time: time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC), Seq: 9,
		Aggregate: events.Ref{Type: "delivery", ID: "dlv_1", Tenant: "t1"}}
	for _, tc := range []struct {
		kind  string
		apply func(Tx) error
	}{
		{KindDelivery, func(tx Tx) error {
			return applyDeliveryCreated(tx, e, &events.DeliveryCreated{WebhookID: "wh_1", EventID: "evt_1", Type: "app.created"})
		}},
		{KindSystem, func(tx Tx) error {
			return applySystemBootstrapped(tx, e, &events.SystemBootstrapped{Tenant: "t1", AdminAppID: "app_1"})
		}},
		{KindApp, func(tx Tx) error { return createsView(tx, e, KindApp) }},
		{kindWebhookIndex, func(tx Tx) error {
			return changeIndex(tx, "t1", "app.created", func(ids []string) []string { return append(ids, "wh_2") })
		}},
	} {
		tx := unreachableTx{memTx: memTx{docs: map[string]Doc{}}, kind: tc.kind}
		if err := tc.apply(tx); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s unreadable: %v, want ErrUnavailable", tc.kind, err)
		}
		if len(tx.docs) != 0 {
			t.Errorf("%s unreadable: documents written: %v", tc.kind, tx.docs)
		}
	}
}
