package e2e

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

// listWebhookIDs lists every webhook a's token sees, sorted.
func (a *api) listWebhookIDs() []string {
	a.t.Helper()
	r := a.call(http.MethodGet, "/v1/webhooks?limit=500", nil)
	if r.Status != http.StatusOK {
		a.t.Fatalf("list webhooks: %s", r)
	}
	var page struct {
		Items []webhookView `json:"items"`
	}
	r.decode(a.t, &page)
	ids := make([]string, 0, len(page.Items))
	for _, w := range page.Items {
		ids = append(ids, w.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestWebhooksPerAppCap: with GATEHOUSE_WEBHOOKS_PER_APP=3 an app's
// fourth webhook is 403 quota_exceeded and changes nothing (the list is
// the same before and after, also after catching up on a read through
// the log); deleting one frees a slot for exactly one more. Concurrent
// creates on a full-but-one app never leave it above the cap: the cap is
// held through the log (a per-app counter appended with an expected
// version beside webhook.created), not only by the projection read
// before the append.
func TestWebhooksPerAppCap(t *testing.T) {
	t.Parallel()
	const limit = 3
	s := startServer(t, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"), withEnv("WEBHOOKS_PER_APP", "3"))
	a := adminAPI(t, s)
	typ, _ := webhookTenant(t, a)
	rcv := newReceiver(t)

	var hooks []webhookView
	for range limit {
		hooks = append(hooks, a.subscribe(rcv.srv.URL, typ))
	}
	before := a.listWebhookIDs()
	if len(before) != limit {
		t.Fatalf("after %d creates the list has %d webhooks: %v", limit, len(before), before)
	}
	for range 2 {
		r := a.call(http.MethodPost, "/v1/webhooks", map[string]any{"url": rcv.srv.URL, "events": []string{typ}})
		wantProblem(t, r, http.StatusForbidden, "quota_exceeded")
	}
	if after := a.listWebhookIDs(); !slices.Equal(after, before) {
		t.Fatalf("a refused create changed the list: before %v, after %v", before, after)
	}

	if r := a.call(http.MethodDelete, "/v1/webhooks/"+hooks[0].ID, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %s", r)
	}
	freed := a.subscribe(rcv.srv.URL, typ)
	wantProblem(t, a.call(http.MethodPost, "/v1/webhooks", map[string]any{"url": rcv.srv.URL, "events": []string{typ}}),
		http.StatusForbidden, "quota_exceeded")
	want := append(slices.DeleteFunc(slices.Clone(before), func(id string) bool { return id == hooks[0].ID }), freed.ID)
	slices.Sort(want)
	if got := a.listWebhookIDs(); !slices.Equal(got, want) {
		t.Fatalf("after delete and create the list is %v, want %v", got, want)
	}

	// The counter is bookkeeping: the feed shows the webhooks' events,
	// never quota.counted.
	created := 0
	for _, e := range a.feed(t, "control", "") {
		if strings.HasPrefix(e.Type, "quota.") {
			t.Errorf("implementation event %s in the feed", e.Type)
		}
		if e.Type == "webhook.created" {
			created++
		}
	}
	if created != limit+1 {
		t.Errorf("the feed shows %d webhook.created, want %d", created, limit+1)
	}

	t.Run("concurrent creates", func(t *testing.T) {
		a := a.in(t)
		// One slot free: of many concurrent creates exactly one succeeds.
		if r := a.call(http.MethodDelete, "/v1/webhooks/"+freed.ID, nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete: %s", r)
		}
		const n = 8
		for round := range 3 {
			statuses := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					r := a.call(http.MethodPost, "/v1/webhooks", map[string]any{"url": rcv.srv.URL, "events": []string{typ}})
					statuses[i] = r.Status
					if r.Status != http.StatusCreated {
						wantProblem(t, r, http.StatusForbidden, "quota_exceeded")
					}
				})
			}
			wg.Wait()
			if c := slices.Index(statuses, http.StatusCreated); c < 0 || slices.Index(statuses[c+1:], http.StatusCreated) >= 0 {
				t.Fatalf("round %d: %d concurrent creates with one slot free answered %v, want exactly one 201", round, n, statuses)
			}
			ids := a.listWebhookIDs()
			if len(ids) != limit {
				t.Fatalf("round %d: the app has %d webhooks, the cap is %d: %v", round, len(ids), limit, ids)
			}
			if r := a.call(http.MethodDelete, "/v1/webhooks/"+ids[0], nil); r.Status != http.StatusNoContent {
				t.Fatalf("delete: %s", r)
			}
		}
	})
}
