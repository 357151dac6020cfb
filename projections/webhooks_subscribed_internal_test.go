package projections

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// TestWebhookReceivesAt: a webhook receives an event type from the
// control sequence of its creation, of its last enabling (every type), or
// of the update that added the type (that type only); a type dropped and
// added again counts from its return; a URL change or a description keeps
// the bounds; a disabled webhook receives nothing; position 0 (unknown)
// has no bound.
func TestWebhookReceivesAt(t *testing.T) {
	tx := memTx{docs: map[string]Doc{}}
	ref := events.Ref{Tenant: "t1", Type: events.AggWebhook, ID: "wh_1"}
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	apply := func(seq uint64, p events.Payload) Webhook {
		t.Helper()
		e := events.MustNew(ref, events.System, at, p)
		e.Seq, e.Stream = seq, events.Control
		var err error
		switch p := p.(type) {
		case *events.WebhookCreated:
			err = applyWebhookCreated(tx, e, p)
		case *events.WebhookUpdated:
			err = applyWebhookUpdated(tx, e, p)
		case *events.WebhookDisabled:
			err = applyWebhookDisabled(tx, e, p)
		}
		if err != nil {
			t.Fatal(err)
		}
		doc, err := tx.Get(KindWebhook, "wh_1")
		if err != nil {
			t.Fatal(err)
		}
		w, err := decode[Webhook](doc)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	check := func(w Webhook, typ string, pos uint64, want bool) {
		t.Helper()
		if got := w.ReceivesAt(typ, pos); got != want {
			t.Errorf("ReceivesAt(%s, %d) = %v, want %v (subscribed %v, %s)", typ, pos, got, want, w.Subscribed, w.Status)
		}
	}
	const a, b, c = "case.updated", "case.closed", "case.opened"
	types := func(ts ...string) *[]string { return &ts }
	url, desc := "https://93.184.215.14/moved", "moved"
	active, disabled := events.WebhookStatusActive, events.WebhookStatusDisabled

	w := apply(10, &events.WebhookCreated{WebhookSettings: events.WebhookSettings{AppID: "app_1", URL: "https://93.184.215.14/", Events: []string{a}, Status: active}})
	check(w, a, 9, false)
	check(w, a, 10, true)
	check(w, a, 0, true)
	check(w, b, 20, false) // not subscribed

	w = apply(20, &events.WebhookUpdated{Events: types(a, b)}) // widened
	check(w, a, 15, true)
	check(w, b, 15, false)
	check(w, b, 20, true)

	w = apply(30, &events.WebhookUpdated{URL: &url, Description: &desc}) // the same subscription
	check(w, a, 15, true)
	check(w, b, 25, true)

	w = apply(40, &events.WebhookUpdated{Events: types(b)}) // narrowed
	check(w, a, 45, false)
	w = apply(50, &events.WebhookUpdated{Events: types(a, b, c)}) // a is back
	check(w, a, 45, false)
	check(w, a, 50, true)
	check(w, b, 25, true)
	check(w, c, 49, false)

	w = apply(60, &events.WebhookDisabled{AppID: "app_1", Reason: "gone"})
	check(w, b, 70, false)
	check(w, b, 0, false)
	apply(70, &events.WebhookUpdated{Events: types(a)}) // narrowed while disabled
	apply(80, &events.WebhookUpdated{Status: &disabled})
	w = apply(90, &events.WebhookUpdated{Status: &active, Events: types(a, c)}) // enabled again: every type from here
	check(w, a, 85, false)
	check(w, c, 85, false)
	check(w, a, 90, true)
	check(w, c, 95, true)
	if len(w.Subscribed) != 2 {
		t.Errorf("subscribed %v, want the two types it has", w.Subscribed)
	}

	// A document written before Subscribed existed: no bound.
	old := Webhook{WebhookSettings: events.WebhookSettings{Events: []string{a}, Status: active}}
	check(old, a, 1, true)
}
