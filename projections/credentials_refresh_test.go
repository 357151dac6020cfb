package projections_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// streamApplier applies events to a memory store each on its own stream
// (events.StreamOf), with a sequence per stream, as the projector does.
type streamApplier struct {
	t   *testing.T
	s   *memory.Store
	seq map[events.Stream]uint64
}

func newStreamApplier(t *testing.T) *streamApplier {
	return &streamApplier{t: t, s: memory.New(), seq: map[events.Stream]uint64{}}
}

func (a *streamApplier) try(e events.Event) error {
	e.Stream = events.StreamOf(e.Aggregate.Type)
	e.Seq = a.seq[e.Stream] + 1
	err := a.s.Update(a.t.Context(), e.Stream, e.Seq, func(tx projections.Tx) error { return projections.Apply(tx, e) })
	if err == nil {
		a.seq[e.Stream]++
	}
	return err
}

func (a *streamApplier) apply(evs ...events.Event) {
	a.t.Helper()
	for _, e := range evs {
		if err := a.try(e); err != nil {
			a.t.Fatalf("apply %s: %v", e.Type, err)
		}
	}
}

// refreshHistory is a credential's life across both streams: created
// with its first token set (control), its refresh state moving to the
// high-volume stream (a claim, the move, a refresh, an alert, a
// rollback), and a snapshot half way through the retention.
func refreshHistory() []events.Event {
	const retain = 3600
	exp1, at1 := t0.Add(time.Hour), t0.Add(55*time.Minute)
	exp2, at2 := t0.Add(2*time.Hour), t0.Add(115*time.Minute)
	v1 := events.CredentialTokenSet{Version: 1, CreatedAt: t0.Add(time.Millisecond), ExpiresAt: &exp1, RefreshAt: &at1, Scopes: []string{},
		Reason: "created", TokenType: "Bearer", HasRefreshToken: true, TokensSealed: "v1:one"}
	v2 := events.CredentialTokenSet{Version: 2, CreatedAt: at1.Add(time.Second), ExpiresAt: &exp2, RefreshAt: &at2, Scopes: []string{},
		Reason: "refreshed", TokenType: "Bearer", HasRefreshToken: true, TokensSealed: "v1:two"}
	until := at1.Add(30 * time.Second)
	claim := events.CredentialRefreshState{Status: events.CredentialStatusActive, Current: 1, LastVersion: 1, Versions: []events.CredentialTokenSet{v1},
		NextRefreshAt: &at1, RefreshAttempts: 1, ClaimedBy: "inst_1", ClaimedUntil: &until, RetainSeconds: retain}
	stored := claim
	refreshed := v2.CreatedAt
	stored.Current, stored.LastVersion, stored.Versions, stored.NextRefreshAt = 2, 2, []events.CredentialTokenSet{v2}, &at2
	stored.LastRefreshedAt, stored.ClaimedBy, stored.ClaimedUntil, stored.Revision = &refreshed, "", nil, 1
	rolled := stored
	rolled.Current, rolled.Versions, rolled.NextRefreshAt, rolled.Revision = 1, []events.CredentialTokenSet{v1, v2}, &at1, 2
	snap := rolled
	ms := func(d time.Duration) int { return int(d / time.Millisecond) }
	return []events.Event{
		ev("t1", events.AggCredential, "cred_1", 0, &events.CredentialCreated{Name: "crm", Provider: "custom", GrantType: "client_credentials",
			ClientID: "cid", TokenURL: "https://idp.example/token", ScopeSeparator: " ", RefreshBeforeSeconds: 300}),
		ev("t1", events.AggCredential, "cred_1", 1, &events.CredentialTokensStored{Version: 1, Reason: "created", TokenType: "Bearer",
			ExpiresAt: &exp1, RefreshAt: &at1, HasRefreshToken: true, TokensSealed: "v1:one"}),
		ev("t1", events.AggCredentialRefresh, "cred_1", ms(at1.Sub(t0)), &events.CredentialRefreshClaim{State: claim}),
		ev("t1", events.AggCredential, "cred_1", ms(at1.Sub(t0))+1, &events.CredentialRefreshMoved{}),
		ev("t1", events.AggCredentialRefresh, "cred_1", ms(v2.CreatedAt.Sub(t0)), &events.CredentialRefreshStored{State: stored, Version: 2, Reason: "refreshed"}),
		ev("t1", events.AggCredential, "cred_1", ms(v2.CreatedAt.Sub(t0))+1, &events.CredentialRefreshFailed{Attempt: 1, Error: "ignored_once_moved"}),
		ev("t1", events.AggCredentialRefresh, "cred_1", ms(v2.CreatedAt.Sub(t0))+2, &events.CredentialRefreshRolledBack{State: rolled, Version: 1}),
		ev("t1", events.AggCredentialRefresh, "cred_1", ms(v2.CreatedAt.Sub(t0)+30*time.Minute), &events.CredentialRefreshSnapshot{State: snap}),
	}
}

// TestCredentialRefreshMerge: the refresh state on the high-volume stream
// is merged with the control document when read; before its first event
// the control events are the state (older logs keep applying); the move
// stops the control schedule and later control alerts change nothing of
// the state; versions list both streams' token sets; the schedule holds
// the claim's end, then the next refresh or the snapshot, whichever is
// first; the state is forgotten with its last event's retention, which a
// snapshot renews.
func TestCredentialRefreshMerge(t *testing.T) {
	a := newStreamApplier(t)
	ctx := t.Context()
	h := refreshHistory()
	ms := func(d time.Duration) int { return int(d / time.Millisecond) }
	get := func() projections.Credential {
		t.Helper()
		c, err := projections.GetCredential(ctx, a.s, "t1", "cred_1")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	due := func() time.Time {
		t.Helper()
		d, ok, err := projections.NextCredentialDue(ctx, a.s)
		if err != nil || !ok {
			t.Fatalf("nothing scheduled: %v", err)
		}
		return d
	}
	a.apply(h[0], h[1])
	c := get()
	at1 := *c.Versions[0].RefreshAt
	if c.RefreshSeq != 0 || c.Current != 1 || !due().Equal(at1) {
		t.Fatalf("before any refresh event: seq %d current %d due %v", c.RefreshSeq, c.Current, due())
	}
	a.apply(h[2]) // the claim
	c = get()
	if c.RefreshSeq != 1 || c.ClaimedBy != "inst_1" || c.RefreshAttempts != 1 || c.Current != 1 || len(c.Versions) != 1 {
		t.Fatalf("claimed: %+v", c)
	}
	if !due().Equal(at1) { // the control schedule still has it, before the claim's end
		t.Fatalf("due %v, want the control's %v", due(), at1)
	}
	// Another tenant's event on the aggregate is a broken log.
	if err := a.try(ev("t2", events.AggCredentialRefresh, "cred_1", ms(at1.Sub(t0)), &events.CredentialRefreshClaim{})); err == nil {
		t.Fatal("another tenant's refresh event applied")
	}
	a.apply(h[3]) // moved: the control schedule is gone, the claim's end remains
	if d := due(); !d.Equal(c.ClaimedUntil) {
		t.Fatalf("due after the move %v, want the claim's end %v", d, c.ClaimedUntil)
	}
	before := get().Version
	a.apply(h[4], h[5]) // refreshed; an alert on control
	c = get()
	if c.Current != 2 || c.LastVersion != 2 || c.ClaimedBy != "" || c.LastError != "" || c.ConsecutiveFailures != 0 || c.Version != before+1 {
		t.Fatalf("refreshed: current %d last %d claimed %q error %q failures %d version %d (was %d)", c.Current, c.LastVersion, c.ClaimedBy, c.LastError, c.ConsecutiveFailures, c.Version, before)
	}
	if v, ok := c.CurrentVersion(); !ok || v.TokensSealed != "v1:two" {
		t.Fatalf("current token set %+v %v", v, ok)
	}
	kept, err := projections.CredentialVersions(ctx, a.s, c)
	if err != nil || len(kept) != 2 || kept[0].Version != 1 || kept[0].TokensSealed != "v1:one" || kept[1].Version != 2 {
		t.Fatalf("versions %+v %v", kept, err)
	}
	// Due at the snapshot (half of the 3600 s retention), before v2's
	// refresh an hour on.
	if d := due(); !d.Equal(c.RefreshAt.Add(30*time.Minute)) || !d.Before(*c.NextRefreshAt) {
		t.Fatalf("due %v, want the snapshot's %v (refresh %v)", d, c.RefreshAt.Add(30*time.Minute), *c.NextRefreshAt)
	}
	a.apply(h[6]) // rolled back to v1
	c = get()
	if c.Current != 1 || c.LastVersion != 2 || len(c.Versions) != 2 {
		t.Fatalf("rolled back: %+v", c)
	}
	if v, ok := c.CurrentVersion(); !ok || v.TokensSealed != "v1:one" {
		t.Fatalf("current after the rollback %+v", v)
	}
	// The snapshot is due half way through the retention (3600 s) when
	// no refresh comes first: here v1's refresh time (passed) does.
	rs, err := projections.GetCredentialRefresh(ctx, a.s, "t1", "cred_1")
	if err != nil || !rs.SnapshotAt().Equal(rs.At.Add(30*time.Minute)) {
		t.Fatalf("snapshot at %v %v", rs.SnapshotAt(), err)
	}
	a.apply(h[7]) // the snapshot
	snapAt := get().RefreshAt
	// The clock past the rollback's retention but not the snapshot's:
	// kept, with both versions.
	a.apply(ev("t1", events.AggToken, "tick", int(snapAt.Add(45*time.Minute).Sub(t0)/time.Millisecond), &events.ClockTicked{}))
	c = get()
	kept, _ = projections.CredentialVersions(ctx, a.s, c)
	if c.RefreshSeq == 0 || c.Current != 1 || len(kept) != 2 {
		t.Fatalf("after the first retention: seq %d current %d versions %d", c.RefreshSeq, c.Current, len(kept))
	}
	// Past the snapshot's retention: the state is forgotten, as the log
	// forgets its events; the control document (moved) remains.
	a.apply(ev("t1", events.AggToken, "tick", int(snapAt.Add(61*time.Minute).Sub(t0)/time.Millisecond), &events.ClockTicked{}))
	if _, err := projections.GetCredentialRefresh(ctx, a.s, "t1", "cred_1"); err == nil {
		t.Fatal("the refresh state outlives its retention")
	}
	if c := get(); c.RefreshSeq != 0 || !c.RefreshMoved || c.NextRefreshAt != nil {
		t.Fatalf("control document after the state was forgotten: %+v", c)
	}
	if _, ok, _ := projections.NextCredentialDue(ctx, a.s); ok {
		t.Fatal("a forgotten state is still scheduled")
	}
}

// TestCredentialRefreshRebuild: the documents are the same whatever the
// interleaving of the two streams (invariant 6): as written, every
// control event first, every high-volume event first.
func TestCredentialRefreshRebuild(t *testing.T) {
	h := refreshHistory()
	var ctl, hv []events.Event
	for _, e := range h {
		if events.StreamOf(e.Aggregate.Type) == events.Control {
			ctl = append(ctl, e)
		} else {
			hv = append(hv, e)
		}
	}
	var want []projections.Doc
	for i, order := range [][]events.Event{h, append(slices.Clone(ctl), hv...), append(slices.Clone(hv), ctl...)} {
		a := newStreamApplier(t)
		a.apply(order...)
		docs := a.s.Docs()
		if i == 0 {
			want = docs
			continue
		}
		if len(docs) != len(want) {
			t.Fatalf("order %d: %d documents, want %d", i, len(docs), len(want))
		}
		for j := range docs {
			if docs[j].Kind != want[j].Kind || docs[j].ID != want[j].ID || docs[j].Sort != want[j].Sort || !bytes.Equal(docs[j].Body, want[j].Body) {
				t.Fatalf("order %d: document %d is %s/%s %s, want %s/%s %s", i, j, docs[j].Kind, docs[j].ID, docs[j].Body, want[j].Kind, want[j].ID, want[j].Body)
			}
		}
	}
}
