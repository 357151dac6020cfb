package webhooks_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
	"github.com/gatehouse/gatehouse/webhooks"
)

// TestDispatcherSlotWaitLeavesTheAttemptItsTimeout: an attempt that waited
// for its webhook's slot still gets the whole attempt timeout. With one
// slot, a lease of 2 s, a timeout of 1.5 s and an endpoint answering in
// 1.3 s, the second delivery got the slot 1.3 s into its lease and was cut
// after 0.7 s, recorded as a failed attempt although the endpoint answers
// within the timeout. Now it gives up waiting while less than the timeout
// is left, and the schedule makes its first attempt once the lease ends.
func TestDispatcherSlotWaitLeavesTheAttemptItsTimeout(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	in := startInstance(t, log, []time.Duration{time.Hour}, func(c *webhooks.Config) {
		c.PerWebhook, c.Lease, c.Timeout = 1, 2*time.Second, 1500*time.Millisecond
	})
	rcv := newReceiver(t, func(string, int) int {
		time.Sleep(1300 * time.Millisecond) // the endpoint's own pace, within the timeout
		return http.StatusOK
	})
	app(t, log, "app_a", "cases:read")
	wh := subscribe(t, log, "app_a", rcv.srv.URL)
	controlApplied(t, log, in)
	evs := publish(t, log, 2)
	ids := []string{events.DeliveryID(evs[0], wh), events.DeliveryID(evs[1], wh)}
	defer func() {
		if !t.Failed() {
			return
		}
		for _, id := range ids {
			t.Logf("%s %+v", delivery(t, in, id).Status, delivery(t, in, id).Attempts)
		}
	}()
	waitUntil(t, "both deliveries ended", 30*time.Second, func() bool {
		return len(delivery(t, in, ids[0]).Attempts) > 0 && len(delivery(t, in, ids[1]).Attempts) > 0
	})
	for _, id := range ids {
		d := delivery(t, in, id)
		if d.Status != events.DeliveryDelivered || len(d.Attempts) != 1 {
			t.Errorf("delivery %s: %s after %+v, want delivered at the first attempt", id, d.Status, d.Attempts)
		}
	}
}
