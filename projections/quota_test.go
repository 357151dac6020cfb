package projections_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// TestQuotaCounted: quota.counted keeps the owner's count and the quota
// aggregate's last sequence (the version the next taker expects); an
// app's webhook counter goes with the app (retention); another app's
// stays.
func TestQuotaCounted(t *testing.T) {
	a := newApplier(t)
	counted := func(app string, n int) events.Event {
		r := events.QuotaRef("acme", events.QuotaWebhooks, app)
		return ev(r.Tenant, r.Type, r.ID, 10, &events.QuotaCounted{Kind: events.QuotaWebhooks, Owner: app, Count: n})
	}
	get := func(app string) projections.Quota {
		t.Helper()
		q, err := projections.GetQuota(t.Context(), a.s, "acme", events.QuotaWebhooks, app)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	if q := get("app_1"); q.LastSeq != 0 || q.Count != 0 {
		t.Fatalf("a counter never counted = %+v, want zero", q)
	}
	a.apply(appCreated("acme", "app_1", "one", "c1", 1), appCreated("acme", "app_2", "two", "c2", 2), counted("app_1", 1), counted("app_2", 1), counted("app_1", 2))
	if q := get("app_1"); q.Count != 2 || q.LastSeq != a.seq {
		t.Fatalf("app_1's counter = %+v, want count 2 at sequence %d", q, a.seq)
	}
	a.apply(appDeleted("acme", "app_1", "c1", 20))
	if q := get("app_1"); q.LastSeq != 0 || q.Count != 0 {
		t.Errorf("a deleted app's counter = %+v, want gone", q)
	}
	if q := get("app_2"); q.Count != 1 || q.LastSeq != 4 {
		t.Errorf("another app's counter = %+v, want count 1 at sequence 4", q)
	}
}
