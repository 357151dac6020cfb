package webhooks_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
	"github.com/gatehouse/gatehouse/projections"
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

// TestDispatcherGoneOfAReplacedEndpointDisablesNothing: a 410 from the
// endpoint a webhook pointed at when the attempt began does not disable
// the webhook once it points elsewhere (an integrator moving off an
// endpoint that now answers 410 Gone). Before, the in-flight attempt's 410
// disabled the re-pointed webhook, and its webhook.disabled named the new
// URL as the one that answered 410.
func TestDispatcherGoneOfAReplacedEndpointDisablesNothing(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	var logs syncbuf.Buffer
	in := startInstance(t, log, []time.Duration{time.Hour}, func(c *webhooks.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	old := newReceiver(t, func(string, int) int {
		once.Do(func() { close(arrived) })
		<-release
		return http.StatusGone
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	moved := newReceiver(t, nil)
	app(t, log, "app_a", "cases:read")
	wh := subscribe(t, log, "app_a", old.srv.URL)
	controlApplied(t, log, in)
	evs := publish(t, log, 1)
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the old endpoint got no request")
	}
	url := moved.srv.URL
	appendOne(t, log, events.Ref{Tenant: tenant, Type: events.AggWebhook, ID: wh}, nil, &events.WebhookUpdated{URL: &url})
	controlApplied(t, log, in)
	close(release)
	id := events.DeliveryID(evs[0], wh)
	waitUntil(t, "the 410 recorded and judged", 30*time.Second, func() bool {
		w, err := projections.GetWebhook(context.Background(), in.store, tenant, wh)
		judged := err == nil && w.Status == events.WebhookStatusDisabled || logs.Contains("changed since the attempt")
		return judged && len(delivery(t, in, id).Attempts) > 0
	})
	if d := delivery(t, in, id); d.Status != events.DeliveryFailed || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != http.StatusGone {
		t.Errorf("delivery %s after %+v, want failed after one 410", d.Status, d.Attempts)
	}
	w, err := projections.GetWebhook(context.Background(), in.store, tenant, wh)
	if err != nil {
		t.Fatal(err)
	}
	if w.Status != events.WebhookStatusActive || w.URL != url {
		t.Errorf("webhook %s at %s (disabled: %+v), want active at %s: the 410 came from the endpoint it left", w.Status, w.URL, w.Disabled, url)
	}
}

// TestDispatcherRetryIsSignedAfresh: a retry carries the same webhook-id
// and a new webhook-timestamp, signed again, so that a consumer's
// Standard Webhooks verifier, which refuses a timestamp more than five
// minutes from its clock, accepts a retry made long after the first
// attempt. The dispatcher's clock moves ten minutes on between the two
// attempts; the receiver verifies the signature (the reference library)
// and the timestamp's age on that clock.
func TestDispatcherRetryIsSignedAfresh(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	in := startInstance(t, log, []time.Duration{10 * time.Millisecond}, func(c *webhooks.Config) {
		c.Now = now
		c.Send = webhooks.NewSender(webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: true}))
	})
	verifier, err := standardwebhooks.NewWebhook("whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []http.Header
	var verdicts []error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		err := verifier.VerifyIgnoringTimestamp(body, r.Header)
		if ts, perr := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64); err == nil && (perr != nil || now().Sub(time.Unix(ts, 0)).Abs() > 5*time.Minute) {
			err = fmt.Errorf("webhook-timestamp %q is more than 5 minutes from %s", r.Header.Get("webhook-timestamp"), now())
		}
		mu.Lock()
		defer mu.Unlock()
		got, verdicts = append(got, r.Header.Clone()), append(verdicts, err)
		if len(got) == 1 || err != nil {
			offset.Store(int64(10 * time.Minute)) // the retry comes ten minutes on
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	app(t, log, "app_a", "cases:read")
	wh := subscribe(t, log, "app_a", srv.URL)
	controlApplied(t, log, in)
	id := events.DeliveryID(publish(t, log, 1)[0], wh)
	waitUntil(t, "two attempts", 30*time.Second, func() bool { return len(delivery(t, in, id).Attempts) >= 2 })
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || verdicts[0] != nil || verdicts[1] != nil {
		t.Fatalf("%d requests, verdicts %v: want two that verify", len(got), verdicts)
	}
	if got[0].Get("webhook-id") != id || got[1].Get("webhook-id") != id {
		t.Errorf("webhook-ids %q, %q, want %q both times", got[0].Get("webhook-id"), got[1].Get("webhook-id"), id)
	}
	if d := delivery(t, in, id); d.Status != events.DeliveryDelivered {
		t.Errorf("delivery %s after %+v, want delivered by the retry", d.Status, d.Attempts)
	}
}

// TestDispatcherUnsentAttemptsStartNoFailingStreak: an attempt that sent
// nothing (here: the app inactive when its attempt came) says nothing of
// the endpoint, so it does not start the "failing every delivery for
// DisableAfter" streak. Before, such an attempt started it, and the
// endpoint's first real failure six days later disabled the webhook as
// "failing" though it had never failed before (on a clock the test moves).
func TestDispatcherUnsentAttemptsStartNoFailingStreak(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	var clock sync.Mutex
	now := time.Now()
	tick := func(d time.Duration) time.Time { clock.Lock(); defer clock.Unlock(); now = now.Add(d); return now }
	created, resume := make(chan struct{}), make(chan struct{})
	var hold sync.Once
	in := startInstance(t, log, []time.Duration{time.Hour}, func(c *webhooks.Config) {
		c.DisableAfter = 5 * 24 * time.Hour
		c.Now = func() time.Time { return tick(0) }
		commit := c.Commit
		c.Commit = func(ctx context.Context, e events.Event) (uint64, error) {
			seq, err := commit(ctx, e)
			if e.Type == "delivery.created" { // the first attempt waits until the app is inactive
				hold.Do(func() { close(created); <-resume })
			}
			return seq, err
		}
	})
	rcv := newReceiver(t, func(_ string, n int) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	app(t, log, "app_a", "cases:read")
	wh := subscribe(t, log, "app_a", rcv.srv.URL)
	controlApplied(t, log, in)
	active := func(on bool) {
		appendOne(t, log, events.Ref{Tenant: tenant, Type: events.AggApp, ID: "app_a"}, nil, &events.AppUpdated{Active: &on})
		controlApplied(t, log, in)
	}
	first := events.DeliveryID(publish(t, log, 1)[0], wh)
	select {
	case <-created:
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery was created")
	}
	active(false)
	close(resume)
	waitUntil(t, "the first delivery's attempt", 30*time.Second, func() bool { return len(delivery(t, in, first).Attempts) > 0 })
	if d := delivery(t, in, first); d.Attempts[0].ErrorClass != "not_permitted" || rcv.requests(first) != 0 {
		t.Fatalf("first delivery %+v, %d requests: want not_permitted, nothing sent", d.Attempts, rcv.requests(first))
	}
	if h, err := projections.GetWebhookHealth(context.Background(), in.store, wh); err != nil || h.FailingSince != nil {
		t.Errorf("health %+v (%v) after an attempt that sent nothing, want no failing streak", h, err)
	}
	active(true)
	tick(6 * 24 * time.Hour)
	next := events.DeliveryID(publish(t, log, 1)[0], wh)
	waitUntil(t, "the next delivery's first attempt", 30*time.Second, func() bool { return len(delivery(t, in, next).Attempts) > 0 })
	// The attempt is recorded before a disable is decided: wait for the
	// retry, which the attempt's goroutine kicks after any disable.
	tick(time.Hour)
	waitUntil(t, "the next delivery ended", 30*time.Second, func() bool { return delivery(t, in, next).Terminal() })
	w, err := projections.GetWebhook(context.Background(), in.store, tenant, wh)
	if err != nil {
		t.Fatal(err)
	}
	if w.Status != events.WebhookStatusActive {
		t.Errorf("webhook %s (%+v) after the endpoint's first failure, want active", w.Status, w.Disabled)
	}
}
