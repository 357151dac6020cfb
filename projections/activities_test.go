package projections_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// TestActivityLifecycle applies approval activities' events: the request
// is the requester's approval; a vote adds one; a rejection rejects and
// forgets the sealed create; completion records the result; another
// tenant reads nothing. Retention by the control stream's log clock: a
// pending activity is dropped at its expires_at, a finished one
// ActivityKept after it finished.
func TestActivityLifecycle(t *testing.T) {
	a := newApplier(t)
	ctx := t.Context()
	const week = 7 * 24 * time.Hour
	ms := func(d time.Duration) int { return int(d / time.Millisecond) }
	requested := func(id string) events.Event {
		return ev("t1", events.AggActivity, id, 0, &events.ActivityRequested{Type: events.ActivityCredentialCreate, ApprovalsRequired: 2,
			CredentialID: "cred_" + id, Intent: json.RawMessage(`{"name":"crm"}`), Create: &events.CredentialCreated{Name: "crm", ClientSecretSealed: "v1:s"},
			Identities: []string{"app_actor"}, ExpiresAt: t0.Add(week)})
	}
	get := func(id string) (projections.Activity, error) { return projections.GetActivity(ctx, a.s, "t1", id) }
	a.apply(requested("act_pending"), requested("act_done"), requested("act_rejected"))
	p, err := get("act_pending")
	if err != nil || p.Status != events.ActivityPending || p.Approvals() != 1 || p.Votes[0].Actor.ID != "app_actor" || p.Create == nil || p.Version != 1 {
		t.Fatalf("requested %+v %v", p, err)
	}
	if _, err := projections.GetActivity(ctx, a.s, "t2", "act_pending"); !errors.Is(err, projections.ErrNotFound) {
		t.Fatalf("another tenant reads the activity: %v", err)
	}
	a.apply(ev("t1", events.AggActivity, "act_done", ms(time.Hour), &events.ActivityVoted{Decision: events.DecisionApprove, Identities: []string{"app_2"}}),
		ev("t1", events.AggActivity, "act_done", ms(time.Hour), &events.ActivityFinished{Result: json.RawMessage(`{"credential_id":"cred_act_done"}`)}),
		ev("t1", events.AggActivity, "act_rejected", ms(time.Hour), &events.ActivityVoted{Decision: events.DecisionReject, Reason: "no", Identities: []string{"app_2"}}))
	if d, err := get("act_done"); err != nil || d.Status != events.ActivityCompleted || d.Approvals() != 2 || d.Create != nil || string(d.Result) != `{"credential_id":"cred_act_done"}` {
		t.Fatalf("completed %+v %v", d, err)
	}
	if r, err := get("act_rejected"); err != nil || r.Status != events.ActivityRejected || r.Create != nil || r.Votes[1].Reason != "no" {
		t.Fatalf("rejected %+v %v", r, err)
	}
	// A week later by the log's clock: the pending one is gone, the
	// finished ones stay until 90 days after they finished.
	n := 0
	tick := func(d time.Duration) { // any control event moves the log's clock
		n++
		id := "tick" + string(rune('0'+n))
		a.apply(ev(id, events.AggTenant, id, ms(d), &events.TenantCreated{Name: id, AdminAppID: "app_x"}))
	}
	tick(week + time.Second)
	if _, err := get("act_pending"); !errors.Is(err, projections.ErrNotFound) {
		t.Fatalf("a pending activity past its expiry: %v", err)
	}
	if list, _, err := projections.ListActivities(ctx, a.s, "t1", projections.Page{Limit: 10}); err != nil || len(list) != 2 {
		t.Fatalf("list after a week: %d %v", len(list), err)
	}
	tick(time.Hour + projections.ActivityKept + time.Second)
	for _, id := range []string{"act_done", "act_rejected"} {
		if _, err := get(id); !errors.Is(err, projections.ErrNotFound) {
			t.Fatalf("%s past its retention: %v", id, err)
		}
	}
}
