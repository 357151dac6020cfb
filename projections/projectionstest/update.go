package projectionstest

import (
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

var updateTests = map[string]func(*testing.T, projections.Store){
	"FailedUpdateWritesNothing":    testFailedUpdateWritesNothing,
	"PanicWritesNothing":           testPanicWritesNothing,
	"CanceledContextWritesNothing": testCanceledContextWritesNothing,
	"CheckpointPerStream":          testCheckpointPerStream,
	"StaleCheckpoint":              testStaleCheckpoint,
	"CheckpointWithoutWrites":      testCheckpointWithoutWrites,
	"TxSeesOwnWrites":              testTxSeesOwnWrites,
	"UncommittedIsInvisible":       testUncommittedIsInvisible,
	"TxUnusableAfterUpdate":        testTxUnusableAfterUpdate,
}

var (
	kinds   = []string{"app", "tenant"}
	tenants = []string{"t1", "t2", ""}
)

// seed writes a few documents of both kinds and tenants at control 1.
func seed(t *testing.T, s projections.Store) {
	t.Helper()
	mustWrite(t, s, putAll(
		doc("app", "a", "t1", "1", `{"v":1}`, "k:a"),
		doc("app", "b", "t2", "2", `{"v":1}`, "k:b"),
		doc("tenant", "t1", "", "1", `{"v":1}`, "name:t1"),
	))
}

// mess changes every kind of thing the seed holds.
func mess(tx projections.Tx) error {
	for _, f := range []func() error{
		func() error { return tx.Put(doc("app", "new", "t1", "0", `{}`, "k:new")) },
		func() error { return tx.Put(doc("app", "a", "t2", "9", `{"v":2}`, "k:a2")) },
		func() error { return tx.Delete("app", "b") },
		func() error { return tx.Delete("tenant", "t1") },
		func() error { return tx.Put(doc("tenant", "t2", "", "2", `{}`, "name:t1")) },
	} {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// messThenFail is an fn that messes, then returns errBoom.
func messThenFail(tx projections.Tx) error {
	if err := mess(tx); err != nil {
		return err
	}
	return errBoom
}

// messThenPanic is an fn that messes, then panics.
func messThenPanic(tx projections.Tx) error {
	if err := mess(tx); err != nil {
		return err
	}
	panic("projectionstest: fn panics")
}

// wantSeedOnly fails the test unless the store holds exactly seed's state.
func wantSeedOnly(t *testing.T, s projections.Store, before string) {
	t.Helper()
	if after := snapshot(t, s, kinds, tenants); after != before {
		t.Fatalf("state changed:\nbefore\n%s\nafter\n%s", before, after)
	}
	for key, id := range map[string]string{"k:a": "a", "k:b": "b", "k:a2": "", "k:new": ""} {
		wantHolder(t, s, "app", key, id)
	}
	wantHolder(t, s, "tenant", "name:t1", "t1")
	wantCheckpoint(t, s, 1, 0)
}

func testFailedUpdateWritesNothing(t *testing.T, s projections.Store) {
	seed(t, s)
	before := snapshot(t, s, kinds, tenants)
	wantErr(t, s.Update(t.Context(), ctl, 2, messThenFail), errBoom)
	wantSeedOnly(t, s, before)
	mustWrite(t, s, putAll(doc("app", "c", "t1", "3", `{}`)))
	wantCheckpoint(t, s, 2, 0)
}

func testPanicWritesNothing(t *testing.T, s projections.Store) {
	seed(t, s)
	before := snapshot(t, s, kinds, tenants)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("Update swallowed fn's panic")
			}
		}()
		_ = s.Update(t.Context(), ctl, 2, messThenPanic)
	}()
	wantSeedOnly(t, s, before)
	within(t, "an Update after a panic", func() {
		if err := s.Update(t.Context(), ctl, 2, putAll(doc("app", "c", "t1", "3", `{}`))); err != nil {
			t.Errorf("Update after a panic: %v", err)
		}
	})
}

func testCanceledContextWritesNothing(t *testing.T, s projections.Store) {
	seed(t, s)
	before := snapshot(t, s, kinds, tenants)
	if err := s.Update(ctxCanceled(t), ctl, 2, messThenFail); err == nil {
		t.Fatal("Update with a canceled context succeeded")
	}
	wantSeedOnly(t, s, before)
}

func testCheckpointPerStream(t *testing.T, s projections.Store) {
	ctx := t.Context()
	none := func(projections.Tx) error { return nil }
	for _, step := range []struct {
		stream         events.Stream
		seq, cpc, cphv uint64
	}{
		{ctl, 3, 3, 0},
		{hv, 1, 3, 1},
		{ctl, 10, 10, 1},
		{hv, 1000, 10, 1000},
	} {
		if err := s.Update(ctx, step.stream, step.seq, none); err != nil {
			t.Fatalf("Update %s %d: %v", step.stream, step.seq, err)
		}
		wantCheckpoint(t, s, step.cpc, step.cphv)
	}
}

func testStaleCheckpoint(t *testing.T, s projections.Store) {
	called := false
	fn := func(tx projections.Tx) error {
		called = true
		return tx.Put(doc("app", "stale", "t1", "1", `{}`))
	}
	wantErr(t, s.Update(t.Context(), ctl, 0, fn), projections.ErrStaleCheckpoint)
	mustWrite(t, s, func(projections.Tx) error { return nil }) // control at 1
	for _, seq := range []uint64{1, 0} {
		wantErr(t, s.Update(t.Context(), ctl, seq, fn), projections.ErrStaleCheckpoint)
	}
	if called {
		t.Fatal("Update called fn for a stale checkpoint")
	}
	wantMissing(t, s, "app", "stale")
	wantCheckpoint(t, s, 1, 0)
}

func testCheckpointWithoutWrites(t *testing.T, s projections.Store) {
	if err := s.Update(t.Context(), hv, 7, func(projections.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	wantCheckpoint(t, s, 0, 7)
}

func testTxSeesOwnWrites(t *testing.T, s projections.Store) {
	seed(t, s)
	mustWrite(t, s, func(tx projections.Tx) error {
		wantTxDoc(t, tx, "a", `{"v":1}`) // committed state shows through
		steps := []func() error{
			func() error { return tx.Put(doc("app", "n", "t1", "5", `{"n":1}`, "k:n")) },
			func() error { wantTxDoc(t, tx, "n", `{"n":1}`); wantTxKey(t, tx, "k:n", "n"); return nil },
			func() error { return tx.Put(doc("app", "a", "t1", "1", `{"v":2}`, "k:a2")) },
			func() error { wantTxDoc(t, tx, "a", `{"v":2}`); wantTxKey(t, tx, "k:a", ""); return nil },
			func() error { return tx.Delete("app", "a") },
			func() error { wantTxDoc(t, tx, "a", ""); wantTxKey(t, tx, "k:a2", ""); return nil },
			func() error { return tx.Put(doc("app", "a", "t1", "1", `{"v":3}`, "k:a")) },
			func() error { wantTxDoc(t, tx, "a", `{"v":3}`); wantTxKey(t, tx, "k:a", "a"); return nil },
		}
		for _, f := range steps {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	})
	wantDoc(t, mustGet(t, s, "app", "a"), doc("app", "a", "t1", "1", `{"v":3}`, "k:a"))
	wantHolder(t, s, "app", "k:n", "n")
}

// wantTxDoc fails the test unless app/id reads as body in tx ("" = absent).
func wantTxDoc(t *testing.T, tx projections.Tx, id, body string) {
	t.Helper()
	d, err := tx.Get("app", id)
	if body == "" {
		wantErr(t, err, projections.ErrNotFound)
		return
	}
	if err != nil || string(d.Body) != body {
		t.Fatalf("tx.Get app/%s = %q, %v; want %s", id, d.Body, err, body)
	}
}

// wantTxKey fails the test unless key reads as held by id in tx.
func wantTxKey(t *testing.T, tx projections.Tx, key, id string) {
	t.Helper()
	d, err := tx.Lookup("app", key)
	if id == "" {
		wantErr(t, err, projections.ErrNotFound)
		return
	}
	if err != nil || d.ID != id {
		t.Fatalf("tx.Lookup %s = %q, %v; want %s", key, d.ID, err, id)
	}
}

// testUncommittedIsInvisible: readers (other goroutines, so a store that
// serialises them behind the writer deadlocks and fails) see nothing of
// an Update before it commits.
func testUncommittedIsInvisible(t *testing.T, s projections.Store) {
	seed(t, s)
	before := snapshot(t, s, kinds, tenants)
	mustWrite(t, s, func(tx projections.Tx) error {
		if err := mess(tx); err != nil {
			return err
		}
		within(t, "reads during an Update", func() {
			if got, err := trySnapshot(t.Context(), s, kinds, tenants); err != nil || got != before {
				t.Errorf("readers see uncommitted writes (%v):\n%s", err, got)
			}
			if _, err := s.Lookup(t.Context(), "app", "k:new"); err == nil {
				t.Error("Lookup sees an uncommitted key")
			}
		})
		return nil
	})
	wantHolder(t, s, "app", "k:new", "new")
	wantCheckpoint(t, s, 2, 0)
}

func testTxUnusableAfterUpdate(t *testing.T, s projections.Store) {
	var kept projections.Tx
	mustWrite(t, s, func(tx projections.Tx) error { kept = tx; return nil })
	if err := kept.Put(doc("app", "late", "t1", "1", `{}`)); err == nil {
		t.Error("Put on a finished transaction succeeded")
	}
	wantMissing(t, s, "app", "late")
}
