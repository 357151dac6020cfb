package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/projections/postgres"
	"github.com/gatehouse/gatehouse/projections/postgres/pgtest"
)

// TestSharedSchemaOneWriter: instances sharing a schema elect one writer;
// the other's waits end when the writer has applied what they wait for
// (it learns the checkpoint from the commit notifications); when the
// writer stops, the other takes over and the projection goes on from
// where it was, each event applied once.
func TestSharedSchemaOneWriter(t *testing.T) {
	pool := pgtest.Pool(t, "")
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	schema := pgtest.Schema(t, pool)
	a := startProjector(t, log, open(t, pool, postgres.Config{Schema: schema}))
	b := startProjector(t, log, open(t, pool, postgres.Config{Schema: schema}))
	leader, follower := waitLeader(t, a, b)

	mem := memory.New()
	pm := startProjector(t, log, mem)
	appendWorkload(t, log, 0)
	catchUp(t, pm, follower, leader) // the follower first: it must not need the leader's own wait
	if leader.Leading() == follower.Leading() {
		t.Fatalf("leading: %v and %v, want exactly one", leader.Leading(), follower.Leading())
	}
	check := open(t, pool, postgres.Config{Schema: schema})
	wantSameAsMemory(t, check, mem)

	// The follower's read-your-writes: an append's sequence is waited
	// for through the leader's commit.
	res, err := log.Append(t.Context(), events.Append{Events: []events.Event{futureEvent("t1", 999_000)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := follower.WaitFor(ctx, events.Control, res.Last()); err != nil {
		t.Fatalf("the follower's wait for #%d: %v", res.Last(), err)
	}

	// The writer stops: the other takes over and applies what follows.
	_ = leader.Close()
	waitFor(t, "the follower to take the lease over", follower.Leading)
	appendWorkload(t, log, 1)
	catchUp(t, pm, follower)
	wantSameAsMemory(t, check, mem)
}

// waitLeader waits until exactly one of a and b leads and returns it
// first.
func waitLeader(t *testing.T, a, b *projections.Projector) (leader, follower *projections.Projector) {
	t.Helper()
	waitFor(t, "a leader", func() bool { return a.Leading() != b.Leading() })
	if a.Leading() {
		return a, b
	}
	return b, a
}

// waitFor polls cond until it holds or 10 s have passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
