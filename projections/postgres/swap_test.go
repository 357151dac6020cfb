package postgres_test

import (
	"context"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/projections/postgres"
	"github.com/gatehouse/gatehouse/projections/postgres/pgtest"
)

// TestSwapUnderALiveWriter: a schema rebuilt beside the live one is
// swapped in while the live projector goes on writing and events keep
// coming; afterwards the live projector writes the rebuilt tables, and
// they hold exactly what a projection of the whole log holds.
func TestSwapUnderALiveWriter(t *testing.T) {
	pool := pgtest.Pool(t, "")
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	live, fresh, retired := pgtest.Schema(t, pool), pgtest.Schema(t, pool), pgtest.Schema(t, pool)
	mem := memory.New()
	pm := startProjector(t, log, mem)
	appendWorkload(t, log, 0)
	liveStore := open(t, pool, postgres.Config{Schema: live})
	pl := startProjector(t, log, liveStore)
	catchUp(t, pl)

	rebuilt := open(t, pool, postgres.Config{Schema: fresh})
	pf := startProjector(t, log, rebuilt)
	catchUp(t, pf)
	_ = pf.Close()

	var moving errgroup.Group
	moving.Go(func() error { return workload(log, 1) }) // the log moves on during the swap
	err := postgres.Swap(t.Context(), pool, fresh, live, retired, func(ctx context.Context, cp projections.Checkpoint) error {
		p := startProjector(t, log, rebuilt)
		defer p.Close()
		return p.WaitForAll(ctx, cp)
	})
	if werr := moving.Wait(); werr != nil {
		t.Fatalf("the workload appended during the swap: %v", werr)
	}
	if err != nil {
		t.Fatalf("Swap: %v", err)
	}
	appendWorkload(t, log, 2)
	catchUp(t, pm, pl)
	wantSameAsMemory(t, open(t, pool, postgres.Config{Schema: live}), mem)

	var n int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM pg_namespace WHERE nspname = $1", retired).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the retired schema: %d, %v", n, err)
	}
	if err := postgres.DropSchema(t.Context(), pool, retired); err != nil {
		t.Fatal(err)
	}
	if got, _ := liveStore.Checkpoint(t.Context()); got[events.Control] == 0 {
		t.Fatalf("the live store reads checkpoint %v after the swap", got)
	}
}

// TestSwapRefusesABehindRebuild: a rebuild that does not catch up with
// the live schema is not swapped in, and both schemas stay as they were.
func TestSwapRefusesABehindRebuild(t *testing.T) {
	pool := pgtest.Pool(t, "")
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	live, fresh, retired := pgtest.Schema(t, pool), pgtest.Schema(t, pool), pgtest.Schema(t, pool)
	open(t, pool, postgres.Config{Schema: fresh})
	appendWorkload(t, log, 0)
	catchUp(t, startProjector(t, log, open(t, pool, postgres.Config{Schema: live})))
	err := postgres.Swap(t.Context(), pool, fresh, live, retired, func(context.Context, projections.Checkpoint) error { return nil })
	if err == nil {
		t.Fatal("Swap of an empty rebuild over a live schema succeeded")
	}
	var n int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM pg_namespace WHERE nspname IN ($1, $2)", live, fresh).Scan(&n); err != nil || n != 2 {
		t.Fatalf("schemas after a refused swap: %d, %v", n, err)
	}
}
