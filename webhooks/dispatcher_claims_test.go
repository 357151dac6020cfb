package webhooks_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
	"github.com/gatehouse/gatehouse/webhooks"
)

// TestDispatcherClaimsOnlyWhatItCanStart: the schedule claims a due
// delivery only when its webhook has a free slot here. A slow endpoint
// (two slots, 150 ms an answer) with a backlog of 200 deliveries, whose
// waiting first attempts gave up at their lease's end, gets about as many
// claims written as attempts made, not its backlog again at every lease
// (before: 256 claims a round, each waiting for a slot until its lease
// ended). Another webhook's retry, due behind the whole backlog and past
// what one round reads (a scan of 32 entries here), is still attempted
// and delivered while the backlog lasts.
func TestDispatcherClaimsOnlyWhatItCanStart(t *testing.T) {
	webhooks.SetDueScan(t, 16, 32)
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	var claims, attempts atomic.Int64
	retries := make([]time.Duration, 100)
	for i := range retries {
		retries[i] = 10 * time.Millisecond
	}
	in := startInstance(t, log, retries, func(c *webhooks.Config) {
		c.PerWebhook, c.Lease, c.Timeout = 2, time.Second, 500*time.Millisecond
		c.Scope = func(_ context.Context, _, typ string) (string, bool, error) {
			return "cases:read", typ == "case.updated" || typ == "case.closed", nil
		}
		c.Log = claimCounter{Log: c.Log, n: &claims} // claims are appended with the command path
		commit := c.Commit
		c.Commit = func(ctx context.Context, e events.Event) (uint64, error) {
			seq, err := commit(ctx, e)
			if err == nil && e.Type == "delivery.attempted" {
				attempts.Add(1)
			}
			return seq, err
		}
	})
	slow := newReceiver(t, func(string, int) int { time.Sleep(150 * time.Millisecond); return http.StatusOK })
	fast := newReceiver(t, func(_ string, n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	app(t, log, "app_a", "cases:read")
	subscribe(t, log, "app_a", slow.srv.URL)
	quick := subscribeTo(t, log, "app_a", fast.srv.URL, "case.closed")
	controlApplied(t, log, in)
	const backlog = 200
	publish(t, log, backlog)
	// Once the first leases ended, the backlog is due: a retry of the
	// other webhook lands behind it.
	waitUntil(t, "the backlog's first leases ended", 30*time.Second, func() bool { return claims.Load() > 0 })
	retried := events.DeliveryID(publishType(t, log, "case.closed", 1)[0], quick)
	waitUntil(t, "the other webhook's retry delivered", 30*time.Second, func() bool {
		return delivery(t, in, retried).Status == events.DeliveryDelivered
	})
	// Reached through the cursor, not once the backlog ahead of it
	// drained below a round's scan.
	if _, n := slow.total(); n >= backlog/2 {
		t.Fatalf("the slow endpoint had %d of its %d requests before the other webhook's retry was delivered", n, backlog)
	}
	// About three leases of the slow endpoint's backlog, every attempt
	// claimed by the schedule now: claims written against attempts made.
	c0, a0 := claims.Load(), attempts.Load()
	waitUntil(t, "36 more attempts", 30*time.Second, func() bool { return attempts.Load() >= a0+36 })
	c, a := claims.Load()-c0, attempts.Load()-a0
	if c > a+2 {
		t.Errorf("%d claims written for %d attempts recorded (2 more in flight at most): claims that could not start", c, a)
	}
	t.Logf("%d claims, %d attempts", c, a)
}

// claimCounter counts the delivery.claimed events appended to its log.
type claimCounter struct {
	events.Log
	n *atomic.Int64
}

func (c claimCounter) Append(ctx context.Context, a events.Append) (events.Result, error) {
	res, err := c.Log.Append(ctx, a)
	if err == nil {
		for _, e := range a.Events {
			if e.Type == "delivery.claimed" {
				c.n.Add(1)
			}
		}
	}
	return res, err
}
