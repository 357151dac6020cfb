package webhooks_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
	"github.com/gatehouse/gatehouse/webhooks"
)

// TestDispatcherDeliversOnlyEventsAfterTheSubscription: a webhook receives
// the events that come after it in the log, however late the dispatcher
// gets to them. With the dispatcher held back, a published case.updated
// and a built-in app.updated are appended; then a webhook is created, a
// disabled one enabled again and another widened to case.updated. Once
// the dispatcher runs, the webhook subscribed before both events gets
// both; the late and the re-enabled ones get neither; the widened one gets
// app.updated (it subscribed to it before) but not case.updated. Events
// appended after the changes reach all four.
func TestDispatcherDeliversOnlyEventsAfterTheSubscription(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	gate := make(chan struct{})
	var open sync.Once
	release := func() { open.Do(func() { close(gate) }) }
	t.Cleanup(release) // before the instance's: Close waits for the held fan-outs
	in := startInstance(t, log, []time.Duration{10 * time.Millisecond}, func(c *webhooks.Config) {
		wait := c.WaitFor
		c.WaitFor = func(ctx context.Context, s events.Stream, seq uint64) error {
			select { // every fan-out waits for the projections first: held here
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
			return wait(ctx, s, seq)
		}
		c.Scope = func(_ context.Context, _, typ string) (string, bool, error) {
			return map[string]string{"case.updated": "cases:read", "app.updated": "platform:apps:read"}[typ], true, nil
		}
	})
	rcv := newReceiver(t, nil)
	app(t, log, "app_a", "cases:read", "platform:apps:read")
	both := []string{"case.updated", "app.updated"}
	early := subscribeTo(t, log, "app_a", rcv.srv.URL+"/early", both...)
	widened := subscribeTo(t, log, "app_a", rcv.srv.URL+"/widened", "app.updated")
	reenabled := subscribeTo(t, log, "app_a", rcv.srv.URL+"/reenabled", both...)
	update := func(id string, p *events.WebhookUpdated) {
		appendOne(t, log, events.Ref{Tenant: tenant, Type: events.AggWebhook, ID: id}, nil, p)
	}
	disabled, active := events.WebhookStatusDisabled, events.WebhookStatusActive
	update(reenabled, &events.WebhookUpdated{Status: &disabled})
	appUpdated := func() string {
		name := "renamed"
		e := events.MustNew(events.Ref{Tenant: tenant, Type: events.AggApp, ID: "app_a"}, events.Actor{Kind: events.ActorApp, ID: "app_admin"}, time.Now(), &events.AppUpdated{Name: &name})
		if _, err := log.Append(context.Background(), events.Append{Events: []events.Event{e}}); err != nil {
			t.Fatal(err)
		}
		return e.ID
	}

	before := []string{publish(t, log, 1)[0], appUpdated()}
	late := subscribeTo(t, log, "app_a", rcv.srv.URL+"/late", both...)
	update(reenabled, &events.WebhookUpdated{Status: &active})
	update(widened, &events.WebhookUpdated{Events: &both})
	after := []string{publish(t, log, 1)[0], appUpdated()}
	controlApplied(t, log, in)
	release()

	hooks := []string{early, widened, reenabled, late}
	waitUntil(t, "the later events delivered to every webhook, the earlier ones to the early webhook", 30*time.Second, func() bool {
		for _, ev := range append(after, before...) {
			for _, wh := range hooks {
				if (ev == after[0] || ev == after[1] || wh == early) && delivery(t, in, events.DeliveryID(ev, wh)).Status != events.DeliveryDelivered {
					return false
				}
			}
		}
		return true
	})
	// The early webhook's deliveries of the earlier events were appended
	// in the fan-out that would have appended the others', before their
	// first attempts: every delivery.created of them is applied now.
	last, err := log.LastSeq(context.Background(), events.HighVolume)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.proj.WaitFor(context.Background(), events.HighVolume, last); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, webhook string
		gets          [2]bool // before's case.updated, app.updated
	}{{"widened", widened, [2]bool{false, true}}, {"re-enabled", reenabled, [2]bool{}}, {"late", late, [2]bool{}}} {
		for i, ev := range before {
			id := events.DeliveryID(ev, c.webhook)
			if d := delivery(t, in, id); (d.ID != "") != c.gets[i] {
				t.Errorf("the %s webhook, event %d appended before its change: delivery %q (%s), want one: %v", c.name, i, d.ID, d.Status, c.gets[i])
			}
			if n := rcv.requests(id); (n > 0) != c.gets[i] {
				t.Errorf("the %s webhook, event %d appended before its change: %d requests, want some: %v", c.name, i, n, c.gets[i])
			}
		}
	}
}
