package projections_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// TestQuotaHolds: quota.counted's reserve adds a hold until its Until,
// release ends one; a hold counts until its Until (Held at a later time
// leaves it out) and the next counter event drops lapsed ones; Holds
// tells whether an activity holds a slot; the count and exactness are
// the last event's.
func TestQuotaHolds(t *testing.T) {
	a := newApplier(t)
	ref := func(ms int, p *events.QuotaCounted) events.Event {
		p.Kind, p.Owner = events.QuotaCredentials, "t1"
		return ev("t1", events.AggQuota, "credentials-t1", ms, p)
	}
	hour := int(time.Hour / time.Millisecond)
	a.apply(ref(0, &events.QuotaCounted{Count: 2, Exact: true, Reserve: &events.QuotaReservation{ID: "act_1", Until: t0.Add(time.Hour)}}),
		ref(1, &events.QuotaCounted{Count: 2, Exact: true, Reserve: &events.QuotaReservation{ID: "act_2", Until: t0.Add(3 * time.Hour)}}))
	q, err := projections.GetQuota(t.Context(), a.s, "t1", events.QuotaCredentials, "t1")
	if err != nil || q.Count != 2 || !q.Exact || len(q.Reserved) != 2 || q.Held(t0, "") != 2 || !q.Holds(t0, "act_1") || q.Held(t0, "act_1") != 1 {
		t.Fatalf("two holds: %+v %v", q, err)
	}
	if q.Held(t0.Add(2*time.Hour), "") != 1 || q.Holds(t0.Add(2*time.Hour), "act_1") {
		t.Fatalf("act_1's hold counts past its until: %+v", q)
	}
	// Two hours later: act_2 released (its create ran), act_1 lapsed.
	a.apply(ref(2*hour, &events.QuotaCounted{Count: 3, Exact: true, Release: "act_2"}))
	q, err = projections.GetQuota(t.Context(), a.s, "t1", events.QuotaCredentials, "t1")
	if err != nil || q.Count != 3 || len(q.Reserved) != 0 || q.Held(t0, "") != 0 {
		t.Fatalf("after release and lapse: %+v %v", q, err)
	}
}
