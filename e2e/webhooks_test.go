package e2e

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// receiver is a webhook consumer: it verifies every request with the
// Standard Webhooks reference library against the secrets it is told,
// records what it got, and answers what answer says.
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	secrets []string
	got     []received
	answer  func(n int, id string) (int, http.Header)
	block   chan struct{} // when set, requests wait on it
}

type received struct {
	ID        string
	Type      string
	Data      map[string]any
	Verified  []bool // per secret of the receiver at the time
	SigCount  int
	At        time.Time
	Timestamp time.Time
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	block := r.block
	secrets := append([]string(nil), r.secrets...)
	r.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-req.Context().Done():
			return
		}
	}
	var b struct {
		Type      string         `json:"type"`
		Timestamp time.Time      `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	_ = json.Unmarshal(body, &b)
	rec := received{ID: req.Header.Get("webhook-id"), Type: b.Type, Data: b.Data, At: time.Now(), Timestamp: b.Timestamp,
		SigCount: len(strings.Fields(req.Header.Get("webhook-signature")))}
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		rec.Verified = append(rec.Verified, err == nil && wh.Verify(body, req.Header) == nil)
	}
	r.mu.Lock()
	r.got = append(r.got, rec)
	n := 0
	for _, g := range r.got {
		if g.ID == rec.ID {
			n++
		}
	}
	answer := r.answer
	r.mu.Unlock()
	code, h := http.StatusNoContent, http.Header(nil)
	if answer != nil {
		code, h = answer(n, rec.ID)
	}
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(code)
}

func (r *receiver) setSecrets(s ...string) {
	r.mu.Lock()
	r.secrets = s
	r.mu.Unlock()
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// waitFor polls cond until it holds, or fails the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type webhookView struct {
	ID             string   `json:"id"`
	AppID          string   `json:"app_id"`
	URL            string   `json:"url"`
	Events         []string `json:"events"`
	Status         string   `json:"status"`
	DisabledReason string   `json:"disabled_reason"`
	Secret         string   `json:"secret"`
	Version        uint64   `json:"version"`
}

type deliveryView struct {
	ID        string `json:"id"`
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	Status    string `json:"status"`
	Attempts  []struct {
		N            int    `json:"n"`
		StatusCode   int    `json:"status_code"`
		Error        string `json:"error"`
		ResponseBody string `json:"response_body"`
	} `json:"attempts"`
}

func (a *api) subscribe(url string, types ...string) webhookView {
	a.t.Helper()
	r := a.call(http.MethodPost, "/v1/webhooks", map[string]any{"url": url, "events": types, "description": "e2e"})
	if r.Status != http.StatusCreated {
		a.t.Fatalf("subscribe: %s", r)
	}
	var w webhookView
	r.decode(a.t, &w)
	if !strings.HasPrefix(w.Secret, "whsec_") || w.Status != "active" {
		a.t.Fatalf("subscribe answer: %s", r)
	}
	return w
}

func (a *api) publish(typ string, data map[string]any) string {
	a.t.Helper()
	r := a.call(http.MethodPost, "/v1/events", map[string]any{"type": typ, "data": data})
	if r.Status != http.StatusAccepted {
		a.t.Fatalf("publish: %s", r)
	}
	var out struct {
		ID  string `json:"id"`
		Seq uint64 `json:"seq"`
	}
	r.decode(a.t, &out)
	return out.ID
}

func (a *api) deliveries(webhookID, status string) []deliveryView {
	a.t.Helper()
	r := a.call(http.MethodGet, "/v1/webhooks/"+webhookID+"/deliveries?limit=500&status="+status, nil)
	if r.Status != http.StatusOK {
		a.t.Fatalf("deliveries: %s", r)
	}
	var page struct {
		Items []deliveryView `json:"items"`
	}
	r.decode(a.t, &page)
	return page.Items
}

// webhookTenant sets up an event type with its scope, approved for the
// admin app of a, and returns the type.
func webhookTenant(t *testing.T, a *api) (typ, scope string) {
	t.Helper()
	scope = scopeName("hooks")
	typ = "case.updated_" + strings.ToLower(rand.Text()[:8])
	a.defineScope(map[string]any{"name": scope, "requires_approval": false})
	if r := a.call(http.MethodPost, "/v1/platform/event-types", map[string]any{"name": typ, "scope": scope}); r.Status != http.StatusCreated {
		t.Fatalf("event type: %s", r)
	}
	me := a.adminApp()
	if r := a.call(http.MethodPost, "/v1/platform/apps/"+me.ID+"/scope-requests", map[string]any{"scopes": []string{scope}}); r.Status != http.StatusOK {
		t.Fatalf("scope request: %s", r)
	}
	return typ, scope
}

// TestWebhooks drives subscriptions and deliveries end to end against a
// server of its own (private addresses allowed, a fast retry schedule),
// every delivery checked with the Standard Webhooks reference verifier.
func TestWebhooks(t *testing.T) {
	t.Parallel()
	s := startServer(t, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"), withEnv("WEBHOOK_RETRY_SCHEDULE", "200ms,300ms"), withEnv("WEBHOOK_TIMEOUT", "1s"))
	a := adminAPI(t, s)
	typ, scope := webhookTenant(t, a)

	t.Run("test send", func(t *testing.T) {
		a := a.in(t)
		rcv := newReceiver(t)
		w := a.subscribe(rcv.srv.URL, typ)
		rcv.setSecrets(w.Secret)
		r := a.call(http.MethodPost, "/v1/webhooks/"+w.ID+"/test", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("test: %s", r)
		}
		var d deliveryView
		r.decode(t, &d)
		if d.EventType != "webhook.test" || d.Status != "delivered" || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != 204 {
			t.Errorf("test delivery %+v", d)
		}
		got := rcv.received()
		if len(got) != 1 || got[0].Type != "webhook.test" || !got[0].Verified[0] || got[0].ID != d.ID {
			t.Errorf("receiver got %+v", got)
		}
	})

	t.Run("fan-out and scope gating", func(t *testing.T) {
		a := a.in(t)
		r1, r2 := newReceiver(t), newReceiver(t)
		w1, w2 := a.subscribe(r1.srv.URL, typ), a.subscribe(r2.srv.URL, typ)
		r1.setSecrets(w1.Secret)
		r2.setSecrets(w2.Secret)
		for i := range 5 {
			a.publish(typ, map[string]any{"n": i})
		}
		waitFor(t, 20*time.Second, "5 deliveries to each", func() bool { return len(r1.received()) == 5 && len(r2.received()) == 5 })
		for _, g := range append(r1.received(), r2.received()...) {
			if !g.Verified[0] || g.Type != typ || g.SigCount != 1 {
				t.Errorf("delivery %+v", g)
			}
		}
		// Subscribing needs the scope; an app without it gets 403.
		bare := a.createApp(map[string]any{"name": uniqueName(t, "bare"), "requested_scopes": []string{"webhooks:write"}})
		a.decide(bare.ID, "webhooks:write", "approve", "")
		b := a.as(a.mint(appCreds(bare)).AccessToken)
		wantProblem(t, b.call(http.MethodPost, "/v1/webhooks", map[string]any{"url": r1.srv.URL, "events": []string{typ}}), http.StatusForbidden, "insufficient_scope")
		wantProblem(t, a.call(http.MethodPost, "/v1/webhooks", map[string]any{"url": r1.srv.URL, "events": []string{"no.such_type"}}), http.StatusBadRequest, "validation_error")
		// Revoking the scope stops delivery.
		sub := a.createApp(map[string]any{"name": uniqueName(t, "sub"), "requested_scopes": []string{"webhooks:write", scope}})
		a.decide(sub.ID, "webhooks:write", "approve", "")
		c := a.as(a.mint(appCreds(sub)).AccessToken)
		r3 := newReceiver(t)
		w3 := c.subscribe(r3.srv.URL, typ)
		r3.setSecrets(w3.Secret)
		a.publish(typ, map[string]any{"before": true})
		waitFor(t, 20*time.Second, "the subscriber's first delivery", func() bool { return len(r3.received()) == 1 })
		a.decide(sub.ID, scope, "revoke", "no longer")
		after := a.publish(typ, map[string]any{"after": true})
		// The same fan-out that would make the revoked subscriber's
		// delivery makes the admin's: once the admin's is recorded
		// delivered, a delivery of the subscriber's (appended before
		// either's first attempt) would be listed too.
		waitDelivered(t, a, w1.ID, after)
		if ds := a.deliveries(w3.ID, ""); len(ds) != 1 {
			t.Errorf("after the scope was revoked the subscriber has %d deliveries, want still 1: %+v", len(ds), ds)
		}
		if n := len(r3.received()); n != 1 {
			t.Errorf("after the scope was revoked the subscriber got %d requests, want still 1", n)
		}
	})

	t.Run("retry then success, exhaustion then manual retry", func(t *testing.T) {
		a := a.in(t)
		rcv := newReceiver(t)
		var fail sync.Map
		rcv.answer = func(n int, id string) (int, http.Header) {
			if _, ok := fail.Load(id); ok {
				return http.StatusInternalServerError, nil
			}
			if n <= 2 {
				return http.StatusServiceUnavailable, http.Header{"Retry-After": {"0"}}
			}
			return http.StatusOK, nil
		}
		w := a.subscribe(rcv.srv.URL, typ)
		rcv.setSecrets(w.Secret)
		a.publish(typ, map[string]any{"retry": 1})
		waitFor(t, 20*time.Second, "delivered on the third attempt", func() bool {
			ds := a.deliveries(w.ID, "delivered")
			return len(ds) == 1 && len(ds[0].Attempts) == 3
		})
		got := rcv.received()
		if len(got) != 3 || got[0].ID != got[1].ID || got[1].ID != got[2].ID {
			t.Errorf("three attempts should share one webhook-id: %+v", got)
		}
		for _, g := range got {
			if !g.Verified[0] {
				t.Error("an attempt failed verification")
			}
		}
		// Now every attempt fails: the schedule (2 retries) runs out.
		rcv.mu.Lock()
		rcv.answer = func(int, string) (int, http.Header) { return http.StatusBadGateway, nil }
		rcv.mu.Unlock()
		a.publish(typ, map[string]any{"exhaust": 1})
		var failed deliveryView
		waitFor(t, 20*time.Second, "a failed delivery", func() bool {
			ds := a.deliveries(w.ID, "failed")
			if len(ds) == 1 {
				failed = ds[0]
			}
			return len(ds) == 1
		})
		if len(failed.Attempts) != 3 || failed.Attempts[2].StatusCode != 502 {
			t.Errorf("failed delivery %+v, want 3 attempts ending in 502", failed)
		}
		rcv.mu.Lock()
		rcv.answer = nil
		rcv.mu.Unlock()
		r := a.call(http.MethodPost, "/v1/webhooks/"+w.ID+"/deliveries/"+failed.ID+"/retry", nil)
		if r.Status != http.StatusAccepted {
			t.Fatalf("manual retry: %s", r)
		}
		waitFor(t, 20*time.Second, "the manual retry delivered", func() bool {
			for _, d := range a.deliveries(w.ID, "delivered") {
				if d.ID == failed.ID {
					return true
				}
			}
			return false
		})
		wantProblem(t, a.call(http.MethodPost, "/v1/webhooks/"+w.ID+"/deliveries/"+failed.ID+"/retry", nil), http.StatusConflict, "conflict")
		wantProblem(t, a.call(http.MethodPost, "/v1/webhooks/"+w.ID+"/deliveries/msg_missing/retry", nil), http.StatusNotFound, "not_found")
	})

	t.Run("dual signatures during rotation", func(t *testing.T) {
		a := a.in(t)
		rcv := newReceiver(t)
		w := a.subscribe(rcv.srv.URL, typ)
		r := a.call(http.MethodPost, "/v1/webhooks/"+w.ID+"/secret/rotate", map[string]any{"grace_period_seconds": 3600})
		if r.Status != http.StatusCreated {
			t.Fatalf("rotate: %s", r)
		}
		var rot struct {
			Secret string `json:"secret"`
		}
		r.decode(t, &rot)
		rcv.setSecrets(w.Secret, rot.Secret)
		a.publish(typ, map[string]any{"rotated": true})
		waitFor(t, 20*time.Second, "a delivery", func() bool { return len(rcv.received()) == 1 })
		g := rcv.received()[0]
		if g.SigCount != 2 || !g.Verified[0] || !g.Verified[1] {
			t.Errorf("during the grace period: %d signatures, verified with old/new %v, want 2 and both", g.SigCount, g.Verified)
		}
		// A grace of 0 ends the old secret: one signature, the new one.
		r = a.call(http.MethodPost, "/v1/webhooks/"+w.ID+"/secret/rotate", map[string]any{"grace_period_seconds": 0})
		r.decode(t, &rot)
		rcv.setSecrets(w.Secret, rot.Secret)
		a.publish(typ, map[string]any{"rotated": 2})
		waitFor(t, 20*time.Second, "a second delivery", func() bool { return len(rcv.received()) == 2 })
		g = rcv.received()[1]
		if g.SigCount != 1 || g.Verified[0] || !g.Verified[1] {
			t.Errorf("after a 0 s grace: %d signatures, verified with old/new %v, want 1 by the new", g.SigCount, g.Verified)
		}
	})

	t.Run("410 disables", func(t *testing.T) {
		a := a.in(t)
		rcv := newReceiver(t)
		// 410 to the first request only: one sent after the disable
		// would be delivered.
		var requests atomic.Int32
		rcv.answer = func(int, string) (int, http.Header) {
			if requests.Add(1) == 1 {
				return http.StatusGone, nil
			}
			return http.StatusNoContent, nil
		}
		w := a.subscribe(rcv.srv.URL, typ)
		control := newReceiver(t)
		wc := a.subscribe(control.srv.URL, typ)
		watcher := newReceiver(t)
		ww := a.subscribe(watcher.srv.URL, "webhook.disabled")
		watcher.setSecrets(ww.Secret)
		a.publish(typ, map[string]any{"gone": true})
		waitFor(t, 20*time.Second, "the webhook disabled", func() bool {
			var v webhookView
			a.call(http.MethodGet, "/v1/webhooks/"+w.ID, nil).decode(t, &v)
			return v.Status == "disabled" && v.DisabledReason == "gone"
		})
		waitFor(t, 20*time.Second, "webhook.disabled delivered", func() bool {
			for _, g := range watcher.received() {
				if g.Type == "webhook.disabled" && g.Data["webhook_id"] == w.ID && g.Verified[0] {
					return true
				}
			}
			return false
		})
		after := a.publish(typ, map[string]any{"after": true})
		// The control webhook's delivery of the next event is made in the
		// same fan-out as the disabled one's would be.
		waitDelivered(t, a, wc.ID, after)
		if ds := a.deliveries(w.ID, ""); len(ds) != 1 {
			t.Errorf("the disabled webhook has %d deliveries, want the first only: %+v", len(ds), ds)
		}
		if n := len(rcv.received()); n != 1 {
			t.Errorf("a disabled webhook got %d requests, want 1", n)
		}
		wantProblem(t, a.call(http.MethodPost, "/v1/webhooks/"+w.ID+"/test", nil), http.StatusConflict, "conflict")
		// Re-enabling is the owner's choice.
		r := a.call(http.MethodPatch, "/v1/webhooks/"+w.ID, map[string]any{"status": "active"})
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"status":"active"`) {
			t.Errorf("re-enable: %s", r)
		}
	})

	t.Run("redirects are not followed", func(t *testing.T) {
		a := a.in(t)
		hit := make(chan struct{}, 10)
		inner := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit <- struct{}{} }))
		defer inner.Close()
		rcv := newReceiver(t)
		rcv.answer = func(int, string) (int, http.Header) {
			return http.StatusFound, http.Header{"Location": {inner.URL + "/internal"}}
		}
		w := a.subscribe(rcv.srv.URL, typ)
		a.publish(typ, map[string]any{"redirect": true})
		waitFor(t, 20*time.Second, "the first attempt", func() bool {
			ds := a.deliveries(w.ID, "")
			return len(ds) == 1 && len(ds[0].Attempts) >= 1
		})
		if d := a.deliveries(w.ID, "")[0]; d.Attempts[0].StatusCode != http.StatusFound || d.Status == "delivered" {
			t.Errorf("a redirect answer: %+v, want a 302 failure", d)
		}
		select {
		case <-hit:
			t.Error("the redirect was followed")
		default:
		}
	})

	t.Run("a slow endpoint does not delay a fast one", func(t *testing.T) {
		a := a.in(t)
		slow, fast := newReceiver(t), newReceiver(t)
		release := make(chan struct{})
		slow.block = release
		defer close(release)
		a.subscribe(slow.srv.URL, typ)
		wf := a.subscribe(fast.srv.URL, typ)
		fast.setSecrets(wf.Secret)
		start := time.Now()
		for i := range 20 {
			a.publish(typ, map[string]any{"n": i})
		}
		waitFor(t, 10*time.Second, "20 deliveries to the fast endpoint", func() bool { return len(fast.received()) >= 20 })
		if d := time.Since(start); d > 900*time.Millisecond {
			t.Logf("the fast endpoint took %s for 20 deliveries while the slow one hung", d)
		}
	})

	t.Run("built-in app events", func(t *testing.T) {
		a := a.in(t)
		rcv := newReceiver(t)
		w := a.subscribe(rcv.srv.URL, "app.created", "app.secret.rotated")
		rcv.setSecrets(w.Secret)
		app := a.createApp(map[string]any{"name": uniqueName(t, "watched")})
		a.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/secrets", map[string]any{"grace_period_seconds": 0})
		waitFor(t, 20*time.Second, "app.created and app.secret.rotated", func() bool { return len(rcv.received()) >= 2 })
		seen := map[string]bool{}
		for _, g := range rcv.received() {
			if g.Data["app_id"] != app.ID {
				continue
			}
			seen[g.Type] = g.Verified[0]
			for k := range g.Data {
				if strings.Contains(k, "hash") || strings.Contains(k, "sealed") {
					t.Errorf("%s delivered with %s", g.Type, k)
				}
			}
		}
		if !seen["app.created"] || !seen["app.secret.rotated"] {
			t.Errorf("verified built-in deliveries: %v", seen)
		}
	})

	t.Run("publish validation and dedupe", func(t *testing.T) {
		a := a.in(t)
		r1 := a.call(http.MethodPost, "/v1/events", map[string]any{"type": typ, "data": map[string]any{"x": 1}, "id": "order-42"})
		r2 := a.call(http.MethodPost, "/v1/events", map[string]any{"type": typ, "data": map[string]any{"x": 1}, "id": "order-42"})
		if r1.Status != http.StatusAccepted || string(r1.Body) != string(r2.Body) {
			t.Errorf("dedupe: %s then %s, want the same answer", r1, r2)
		}
		p := wantProblem(t, a.call(http.MethodPost, "/v1/events", map[string]any{"type": "app.created", "data": []int{1}}), http.StatusBadRequest, "validation_error")
		if !equalStrings(p.fields(), "type", "data") {
			t.Errorf("fields %v", p.fields())
		}
	})
}

// waitDelivered waits until webhook's delivery of event is recorded as
// delivered.
func waitDelivered(t *testing.T, a *api, webhook, event string) {
	t.Helper()
	waitFor(t, 20*time.Second, "the delivery of "+event+" to "+webhook, func() bool {
		for _, d := range a.deliveries(webhook, "delivered") {
			if d.EventID == event {
				return true
			}
		}
		return false
	})
}

// TestWebhookSSRF: without WEBHOOK_ALLOW_PRIVATE (the shared server),
// URLs that resolve to loopback or private addresses are refused at
// subscription, a host name included.
func TestWebhookSSRF(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	typ := "app.created" // a built-in type the admin may receive: the URL alone is wrong
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	for _, u := range []string{
		fmt.Sprintf("http://localhost:%d/hook", port), fmt.Sprintf("http://127.0.0.1:%d/hook", port),
		"http://10.0.0.7/hook", "http://169.254.169.254/latest/meta-data/", "http://[::1]/hook", "ftp://example.com/x",
	} {
		p := wantProblem(t, a.call(http.MethodPost, "/v1/webhooks", map[string]any{"url": u, "events": []string{typ}}), http.StatusBadRequest, "validation_error")
		if !equalStrings(p.fields(), "url") {
			t.Errorf("%s: fields %v", u, p.fields())
		}
	}
}
