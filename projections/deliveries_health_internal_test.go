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
