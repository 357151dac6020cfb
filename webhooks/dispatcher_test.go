package webhooks_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/sealing"
	"github.com/gatehouse/gatehouse/webhooks"
)

// These tests run the dispatcher against a real log (embedded JetStream)
// and real projections, with an HTTP receiver, and check what the
// receiver got. The dispatcher's HTTP client and signer are another
// file's tests; here a plain sender signs like Standard Webhooks.

const tenant = "acme"

// secrets seals the webhook secrets of the tests.
var secrets = func() *sealing.Sealer {
	k, err := sealing.New(bytes.Repeat([]byte{7}, sealing.MasterKeySize))
	if err != nil {
		panic(err)
	}
	return k.Purpose(sealing.WebhookSecret)
}()

// instance is one Gatehouse process's share: its own projections and
// dispatcher over the shared log.
type instance struct {
	store *memory.Store
	proj  *projections.Projector
	disp  *webhooks.Dispatcher
	gc    *events.GroupCommitter
}

func startInstance(t *testing.T, log *events.JetStream, schedule []time.Duration, opts ...func(*webhooks.Config)) *instance {
	t.Helper()
	store := memory.New()
	proj, err := projections.New(projections.Config{Log: log, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := proj.Start(ctx); err != nil {
		t.Fatal(err)
	}
	gc := events.NewGroupCommitter(log, events.DefaultGroupBatch, events.DefaultGroupWorkers)
	if err := gc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfg := webhooks.Config{
		Log: log, Queue: log, Commit: gc.Append, Store: store, WaitFor: proj.WaitFor,
		Scope: func(_ context.Context, _, typ string) (string, bool, error) {
			if typ == "case.updated" {
				return "cases:read", true, nil
			}
			return "", false, nil
		},
		OpenSecret: func(id string, s projections.WebhookSecret) ([]byte, error) {
			return secrets.Open(webhooks.SecretAAD(id, s.ID), s.Sealed)
		},
		Send: send,
		Retries: func(n int, retryAfter time.Duration) (time.Duration, bool) {
			if n > len(schedule) {
				return 0, false
			}
			return max(schedule[n-1], retryAfter), true
		},
		Lease: 2 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	d := webhooks.New(cfg)
	startCtx, stop := context.WithTimeout(ctx, 20*time.Second)
	defer stop()
	if err := d.Start(startCtx); err != nil {
		t.Fatalf("dispatcher did not start: %v", err)
	}
	t.Cleanup(func() {
		_ = d.Close()
		cancel()
		gc.Close()
		_ = proj.Close()
	})
	return &instance{store: store, proj: proj, disp: d, gc: gc}
}

// send is a minimal Standard Webhooks sender.
func send(ctx context.Context, o webhooks.Outbound) webhooks.SendResult {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(o.Body))
	if err != nil {
		return webhooks.SendResult{ErrorClass: "network", Error: err.Error()}
	}
	ts := strconv.FormatInt(o.Timestamp.Unix(), 10)
	var sigs []string
	for _, k := range o.Secrets {
		m := hmac.New(sha256.New, k)
		fmt.Fprintf(m, "%s.%s.%s", o.ID, ts, o.Body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	req.Header.Set("webhook-id", o.ID)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", fmt.Sprint(sigs))
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return webhooks.SendResult{ErrorClass: "network", Error: err.Error(), Duration: time.Since(start)}
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	r := webhooks.SendResult{StatusCode: res.StatusCode, Duration: time.Since(start), ResponseBody: string(b)}
	if res.StatusCode/100 != 2 {
		r.ErrorClass, r.Error = "http_status", res.Status
	}
	return r
}

// receiver records what it was sent and answers what answer says.
type receiver struct {
	mu     sync.Mutex
	got    map[string][]string // webhook-id → event types, one per request
	answer func(id string, n int) int
	srv    *httptest.Server
}

func newReceiver(t *testing.T, answer func(id string, n int) int) *receiver {
	r := &receiver{got: map[string][]string{}, answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var b struct {
			Type string `json:"type"`
		}
		body, _ := io.ReadAll(req.Body)
		_ = json.Unmarshal(body, &b)
		id := req.Header.Get("webhook-id")
		r.mu.Lock()
		r.got[id] = append(r.got[id], b.Type)
		n := len(r.got[id])
		r.mu.Unlock()
		code := http.StatusOK
		if r.answer != nil {
			code = r.answer(id, n)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got[id])
}

func (r *receiver) total() (ids, requests int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range r.got {
		ids++
		requests += len(v)
	}
	return ids, requests
}

func appendOne(t *testing.T, log events.Log, ref events.Ref, expect *events.Expect, p events.Payload) events.Result {
	t.Helper()
	e := events.MustNew(ref, events.Actor{Kind: events.ActorApp, ID: "app_admin"}, time.Now(), p)
	a := events.Append{Events: []events.Event{e}}
	if expect != nil {
		a.Expect = []events.Expect{*expect}
	}
	res, err := log.Append(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// app registers an app holding scopes.
func app(t *testing.T, log events.Log, id string, scopes ...string) {
	grants := make([]events.ScopeGrant, len(scopes))
	for i, s := range scopes {
		grants[i] = events.ScopeGrant{Scope: s, Status: "approved"}
	}
	appendOne(t, log, events.Ref{Tenant: tenant, Type: events.AggApp, ID: id}, nil,
		&events.AppCreated{AppSettings: events.AppSettings{ClientID: "cl_" + id, Name: id, Active: true, TokenEndpointAuthMethod: "client_secret_basic"}, Scopes: grants})
}

// subscribe registers a webhook of appID to url for case.updated.
func subscribe(t *testing.T, log events.Log, appID, url string) string {
	return subscribeTo(t, log, appID, url, "case.updated")
}

// subscribeTo registers a webhook of appID to url for types.
func subscribeTo(t *testing.T, log events.Log, appID, url string, types ...string) string {
	id := events.NewID("wh")
	sealed, err := secrets.Seal(webhooks.SecretAAD(id, "whs_1"), []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	appendOne(t, log, events.Ref{Tenant: tenant, Type: events.AggWebhook, ID: id}, nil,
		&events.WebhookCreated{WebhookSettings: events.WebhookSettings{AppID: appID, URL: url, Events: types, Status: "active"}, SecretID: "whs_1", SecretSealed: sealed})
	return id
}

// publish publishes n case.updated events as POST /v1/events does: each
// carries the control stream's last sequence read before it is appended.
func publish(t *testing.T, log events.Log, n int) []string {
	return publishType(t, log, "case.updated", n)
}

// publishType is publish of n events of type typ.
func publishType(t *testing.T, log events.Log, typ string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		cs, err := log.LastSeq(context.Background(), events.Control)
		if err != nil {
			t.Fatal(err)
		}
		// A published event's envelope id is its aggregate id (the id
		// POST /v1/events answers), as the API appends it.
		e := events.MustNew(events.Ref{Tenant: tenant, Type: events.AggPublished, ID: events.NewID("evt")}, events.Actor{Kind: events.ActorApp, ID: "app_pub"}, time.Now(),
			&events.EventPublished{Type: typ, Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), AppID: "app_pub", ControlSeq: cs})
		e.ID = e.Aggregate.ID
		if _, err := log.Append(context.Background(), events.Append{Events: []events.Event{e}}); err != nil {
			t.Fatal(err)
		}
		ids[i] = e.ID
	}
	return ids
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func delivery(t *testing.T, in *instance, id string) projections.Delivery {
	t.Helper()
	d, err := projections.GetDelivery(context.Background(), in.store, tenant, id)
	if err != nil && !errors.Is(err, projections.ErrNotFound) {
		t.Fatal(err)
	}
	return d
}

func TestDispatcherFanOutExactlyOnceAcrossInstances(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	a := startInstance(t, log, []time.Duration{10 * time.Millisecond})
	b := startInstance(t, log, []time.Duration{10 * time.Millisecond})
	rcv := newReceiver(t, nil)
	other := newReceiver(t, nil)
	app(t, log, "app_a", "cases:read")
	app(t, log, "app_noscope")
	wh1 := subscribe(t, log, "app_a", rcv.srv.URL+"/one")
	wh2 := subscribe(t, log, "app_a", rcv.srv.URL+"/two")
	subscribe(t, log, "app_noscope", other.srv.URL) // its app lacks cases:read
	evs := publish(t, log, 50)
	waitUntil(t, "100 deliveries", 30*time.Second, func() bool { ids, _ := rcv.total(); return ids == 100 })
	// Every delivery recorded as delivered, on both instances' projections.
	for _, in := range []*instance{a, b} {
		last, err := log.LastSeq(context.Background(), events.HighVolume)
		if err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "deliveries recorded", 30*time.Second, func() bool {
			if err := in.proj.WaitFor(context.Background(), events.HighVolume, last); err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				for _, wh := range []string{wh1, wh2} {
					if delivery(t, in, events.DeliveryID(e, wh)).Status != "delivered" {
						return false
					}
				}
			}
			return true
		})
	}
	ids, requests := rcv.total()
	if ids != 100 || requests != 100 {
		t.Errorf("receiver got %d requests for %d deliveries, want 100 for 100 (exactly once)", requests, ids)
	}
	if n, _ := other.total(); n != 0 {
		t.Errorf("an app without the event type's scope received %d deliveries", n)
	}
}

func TestDispatcherRetriesThenDelivers(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	in := startInstance(t, log, []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond})
	rcv := newReceiver(t, func(_ string, n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	app(t, log, "app_a", "cases:read")
	wh := subscribe(t, log, "app_a", rcv.srv.URL)
	evs := publish(t, log, 1)
	id := events.DeliveryID(evs[0], wh)
	waitUntil(t, "delivered on the third attempt", 30*time.Second, func() bool { return delivery(t, in, id).Status == "delivered" })
	d := delivery(t, in, id)
	if len(d.Attempts) != 3 || d.Attempts[0].StatusCode != 503 || d.Attempts[2].StatusCode != 204 {
		t.Errorf("attempts %+v, want 503, 503, 204", d.Attempts)
	}
	if got := rcv.requests(id); got != 3 {
		t.Errorf("the receiver saw webhook-id %s %d times, want 3 (one id across retries)", id, got)
	}
}

func TestDispatcherExhaustsThenManualRetry(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	in := startInstance(t, log, []time.Duration{10 * time.Millisecond})
	var ok sync.Map
	rcv := newReceiver(t, func(id string, _ int) int {
		if _, yes := ok.Load(id); yes {
			return http.StatusOK
		}
		return http.StatusInternalServerError
	})
	app(t, log, "app_a", "cases:read")
	wh := subscribe(t, log, "app_a", rcv.srv.URL)
	evs := publish(t, log, 1)
	id := events.DeliveryID(evs[0], wh)
	waitUntil(t, "failed after two attempts", 30*time.Second, func() bool { return delivery(t, in, id).Status == "failed" })
	if n := len(delivery(t, in, id).Attempts); n != 2 {
		t.Fatalf("%d attempts, want 2 (the first and one retry)", n)
	}
	ok.Store(id, true)
	if err := in.disp.Retry(context.Background(), tenant, wh, id); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "delivered by the manual retry", 30*time.Second, func() bool { return delivery(t, in, id).Status == "delivered" })
	if err := in.disp.Retry(context.Background(), tenant, wh, id); !errors.Is(err, webhooks.ErrNotRetryable) {
		t.Errorf("retry of a delivered delivery: %v, want ErrNotRetryable", err)
	}
}

// TestDispatcherGoneDisables: a 410 fails the delivery at once and
// disables the webhook; the next event is fanned out (a control webhook of
// the same app and type receives it) but creates no delivery for the
// disabled one and sends it nothing, though its endpoint now answers 200.
func TestDispatcherGoneDisables(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	in := startInstance(t, log, []time.Duration{10 * time.Millisecond})
	// 410 to the first request only: a delivery sent after the disable
	// would count as delivered.
	rcv := newReceiver(t, func(_ string, n int) int {
		if n == 1 {
			return http.StatusGone
		}
		return http.StatusOK
	})
	control := newReceiver(t, nil)
	app(t, log, "app_a", "cases:read")
	wh := subscribe(t, log, "app_a", rcv.srv.URL)
	ctl := subscribe(t, log, "app_a", control.srv.URL)
	evs := publish(t, log, 1)
	id := events.DeliveryID(evs[0], wh)
	waitUntil(t, "the webhook disabled", 30*time.Second, func() bool {
		w, err := projections.GetWebhook(context.Background(), in.store, tenant, wh)
		return err == nil && w.Status == "disabled" && w.Disabled != nil && w.Disabled.Reason == "gone"
	})
	// The attempt is on the high-volume stream, the disable on the control
	// stream: each projection applies its own, in no order between them.
	waitUntil(t, "the delivery's attempt applied", 30*time.Second, func() bool { return delivery(t, in, id).Status != "pending" })
	if d := delivery(t, in, id); d.Status != "failed" || len(d.Attempts) != 1 {
		t.Errorf("delivery %s with %d attempts, want failed after 1 (410 is final)", d.Status, len(d.Attempts))
	}
	// Nothing more goes to a disabled webhook. The control webhook proves
	// the next event was fanned out: its delivery.created is appended in
	// the same fan-out as one for the disabled webhook would be, before
	// either's first attempt starts.
	more := publish(t, log, 1)
	waitUntil(t, "the next event delivered to the control webhook", 30*time.Second, func() bool {
		return delivery(t, in, events.DeliveryID(more[0], ctl)).Status == "delivered"
	})
	last, err := log.LastSeq(context.Background(), events.HighVolume)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.proj.WaitFor(context.Background(), events.HighVolume, last); err != nil {
		t.Fatal(err)
	}
	if d := delivery(t, in, events.DeliveryID(more[0], wh)); d.ID != "" {
		t.Errorf("the disabled webhook got a delivery of the next event: %s with %d attempts", d.Status, len(d.Attempts))
	}
	if n := rcv.requests(events.DeliveryID(more[0], wh)); n != 0 {
		t.Errorf("the disabled webhook's endpoint got %d requests for the next event, want 0", n)
	}
	if _, n := rcv.total(); n != 1 {
		t.Errorf("the disabled webhook's endpoint got %d requests in all, want 1 (the 410)", n)
	}
}

// TestDispatcherDisablesAFailingEndpoint: an endpoint that failed every
// delivery for DisableAfter (5 days by default) is disabled as "failing".
func TestDispatcherDisablesAFailingEndpoint(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	sched := make([]time.Duration, 20)
	for i := range sched {
		sched[i] = 20 * time.Millisecond
	}
	in := startInstance(t, log, sched, func(c *webhooks.Config) { c.DisableAfter = 300 * time.Millisecond })
	rcv := newReceiver(t, func(string, int) int { return http.StatusInternalServerError })
	app(t, log, "app_a", "cases:read")
	wh := subscribe(t, log, "app_a", rcv.srv.URL)
	publish(t, log, 1)
	waitUntil(t, "the webhook disabled as failing", 30*time.Second, func() bool {
		w, err := projections.GetWebhook(context.Background(), in.store, tenant, wh)
		return err == nil && w.Status == "disabled" && w.Disabled != nil && w.Disabled.Reason == "failing"
	})
}

// TestDispatcherFailingStreakRestarts: the "failing every delivery for
// DisableAfter" streak of an endpoint is not held against the webhook
// once it is enabled again or pointed at another URL: its first failure
// after either is retried, not a disable (on a clock the test moves).
func TestDispatcherFailingStreakRestarts(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	var clock sync.Mutex
	now := time.Now()
	tick := func(d time.Duration) time.Time { clock.Lock(); defer clock.Unlock(); now = now.Add(d); return now }
	in := startInstance(t, log, []time.Duration{time.Hour, time.Hour, time.Hour}, func(c *webhooks.Config) {
		c.DisableAfter = 5 * 24 * time.Hour
		c.Now = func() time.Time { return tick(0) }
	})
	// flaky fails the first request of each delivery; fixable fails every
	// request until fixed, then is flaky.
	var fixed atomic.Bool
	flaky := func(_ string, n int) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	failing, moveTo := newReceiver(t, func(string, int) int { return http.StatusInternalServerError }), newReceiver(t, flaky)
	fixable := newReceiver(t, func(id string, n int) int {
		if !fixed.Load() {
			return http.StatusInternalServerError
		}
		return flaky(id, n)
	})
	app(t, log, "app_a", "cases:read")
	webhook := func(id string) projections.Webhook {
		w, err := projections.GetWebhook(context.Background(), in.store, tenant, id)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	update := func(id string, at time.Time, p *events.WebhookUpdated) {
		e := events.MustNew(events.Ref{Tenant: tenant, Type: events.AggWebhook, ID: id}, events.Actor{Kind: events.ActorApp, ID: "app_a"}, at, p)
		res, err := log.Append(context.Background(), events.Append{Events: []events.Event{e}})
		if err == nil {
			err = in.proj.WaitFor(context.Background(), events.Control, res.Last())
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	attempted := func(id string, n int) projections.Delivery {
		waitUntil(t, fmt.Sprintf("attempt %d of %s", n, id), 30*time.Second, func() bool { return len(delivery(t, in, id).Attempts) >= n })
		return delivery(t, in, id)
	}
	retried := func(w, d string, n int) {
		if got := attempted(d, n); got.Status != events.DeliveryRetrying {
			t.Fatalf("delivery %s after the first failure of the new endpoint: %s, want retrying", d, got.Status)
		}
		if got := webhook(w); got.Status != events.WebhookStatusActive {
			t.Fatalf("webhook %s %s (%+v) at its first failure since it was enabled or moved, want active", w, got.Status, got.Disabled)
		}
	}

	// Two webhooks fail from the start; one is pointed at another URL
	// that takes effect in six days, when both are retried.
	again, moved := subscribe(t, log, "app_a", fixable.srv.URL), subscribe(t, log, "app_a", failing.srv.URL)
	ev := publish(t, log, 1)[0]
	first, pending := events.DeliveryID(ev, again), events.DeliveryID(ev, moved)
	attempted(first, 1)
	attempted(pending, 1)
	url := moveTo.srv.URL
	update(moved, tick(0).Add(6*24*time.Hour), &events.WebhookUpdated{URL: &url})
	tick(6 * 24 * time.Hour)
	waitUntil(t, "disabled as failing", 30*time.Second, func() bool { w := webhook(again); return w.Disabled != nil && w.Disabled.Reason == "failing" })
	retried(moved, pending, 2)
	tick(time.Hour)
	waitUntil(t, "the moved webhook's delivery delivered", 30*time.Second, func() bool { return delivery(t, in, pending).Status == events.DeliveryDelivered })
	waitUntil(t, "the disabled webhook's delivery ended", 30*time.Second, func() bool { return delivery(t, in, first).Status == events.DeliveryFailed })

	// The disabled one's endpoint is fixed and the webhook enabled again:
	// its next failure is retried too.
	fixed.Store(true)
	active := events.WebhookStatusActive
	update(again, tick(0), &events.WebhookUpdated{Status: &active})
	later := events.DeliveryID(publish(t, log, 1)[0], again)
	retried(again, later, 1)
	tick(time.Hour)
	waitUntil(t, "delivered by the retry", 30*time.Second, func() bool { return delivery(t, in, later).Status == events.DeliveryDelivered })
}

// TestDispatcherDeliversPackedEventsOnce: published events group-committed
// as packed messages (as POST /v1/events appends them) are each delivered
// exactly once by two instances sharing the queue.
func TestDispatcherDeliversPackedEventsOnce(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	a := startInstance(t, log, []time.Duration{10 * time.Millisecond})
	b := startInstance(t, log, []time.Duration{10 * time.Millisecond})
	rcv := newReceiver(t, nil)
	app(t, log, "app_a", "cases:read")
	wh := subscribe(t, log, "app_a", rcv.srv.URL)
	controlApplied(t, log, a, b)
	var ids []string
	for range 4 {
		var msg []events.Event
		for range 10 {
			e := events.MustNew(events.Ref{Tenant: tenant, Type: events.AggPublished, ID: events.NewID("evt")}, events.Actor{Kind: events.ActorApp, ID: "app_pub"}, time.Now(),
				&events.EventPublished{Type: "case.updated", Data: json.RawMessage(`{}`), AppID: "app_pub"})
			e.ID = e.Aggregate.ID
			msg = append(msg, e)
			ids = append(ids, e.ID)
		}
		if res, err := log.AppendPacked(context.Background(), msg); err != nil || res.Seqs[0] != res.Last() {
			t.Fatalf("AppendPacked of 10 events: %+v, %v; want one message", res, err)
		}
	}
	waitUntil(t, "40 deliveries", 30*time.Second, func() bool { n, _ := rcv.total(); return n == len(ids) })
	waitUntil(t, "deliveries recorded", 30*time.Second, func() bool {
		for _, e := range ids {
			if delivery(t, a, events.DeliveryID(e, wh)).Status != "delivered" {
				return false
			}
		}
		return true
	})
	if n, requests := rcv.total(); n != len(ids) || requests != len(ids) {
		t.Errorf("receiver got %d requests for %d deliveries, want %d for %d (exactly once)", requests, n, len(ids), len(ids))
	}
}

// TestDispatcherSlotFreedBeforeRecord: a webhook's slot bounds the
// requests in flight to its endpoint, not the recording of their
// attempts: with one slot and the first attempt's record held up, the
// next delivery's request still goes out.
func TestDispatcherSlotFreedBeforeRecord(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	gate := make(chan struct{})
	var once sync.Once
	held := make(chan struct{})
	in := startInstance(t, log, []time.Duration{10 * time.Millisecond}, func(c *webhooks.Config) {
		c.PerWebhook = 1
		commit := c.Commit
		c.Commit = func(ctx context.Context, e events.Event) (uint64, error) {
			if e.Type == "delivery.attempted" {
				first := false
				once.Do(func() { first = true })
				if first { // the first record waits for the test
					close(held)
					<-gate
				}
			}
			return commit(ctx, e)
		}
	})
	var open sync.Once
	release := func() { open.Do(func() { close(gate) }) }
	t.Cleanup(release) // before the instance's: Close waits for the held record
	rcv := newReceiver(t, nil)
	app(t, log, "app_a", "cases:read")
	wh := subscribe(t, log, "app_a", rcv.srv.URL)
	controlApplied(t, log, in)
	evs := publish(t, log, 2)
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("no attempt was recorded")
	}
	waitUntil(t, "the second request while the first attempt's record is held", 10*time.Second, func() bool { n, _ := rcv.total(); return n == 2 })
	release()
	waitUntil(t, "both recorded as delivered", 30*time.Second, func() bool {
		return delivery(t, in, events.DeliveryID(evs[0], wh)).Status == "delivered" && delivery(t, in, events.DeliveryID(evs[1], wh)).Status == "delivered"
	})
}

// controlApplied waits until the instances' projections hold the whole
// control stream, so a fan-out that trusts a control sequence read up to
// 50 ms before (the dispatcher's controlFreshness) still sees the
// subscriptions just made.
func controlApplied(t *testing.T, log events.Log, ins ...*instance) {
	t.Helper()
	last, err := log.LastSeq(context.Background(), events.Control)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range ins {
		if err := in.proj.WaitFor(context.Background(), events.Control, last); err != nil {
			t.Fatal(err)
		}
	}
}
