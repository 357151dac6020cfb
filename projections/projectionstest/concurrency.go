package projectionstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse/gatehouse/projections"
)

var concurrencyTests = map[string]func(*testing.T, projections.Store){
	"ReadersDuringWrites":  testReadersDuringWrites,
	"UpdatesAreSerialized": testUpdatesAreSerialized,
	"CheckpointWithinFn":   testCheckpointWithinFn,
}

// rounds of the writer in ReadersDuringWrites.
const rounds = 200

// pair writes round n: documents a and b carrying n, and (every third
// round) c carrying n or deleted, all at control sequence n.
func pair(n int) func(projections.Tx) error {
	body := fmt.Sprintf(`{"n":%d}`, n)
	return func(tx projections.Tx) error {
		if err := tx.Put(doc("pair", "a", "t1", "1", body, fmt.Sprintf("n:%d", n))); err != nil {
			return err
		}
		if n%3 == 0 {
			if err := tx.Delete("pair", "c"); err != nil {
				return err
			}
		} else if err := tx.Put(doc("pair", "c", "t1", "3", body)); err != nil {
			return err
		}
		return tx.Put(doc("pair", "b", "t1", "2", body))
	}
}

// testReadersDuringWrites: with one writer committing rounds and readers
// reading all the while, every reader sees whole transactions only: the
// checkpoint never goes back, a document is never older than a
// checkpoint read before it, and one List shows a, b (and c) of one round.
func testReadersDuringWrites(t *testing.T, s projections.Store) {
	var done atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { readUntil(t, s, &done) })
	}
	within(t, "the writer", func() {
		defer done.Store(true)
		for n := 1; n <= rounds; n++ {
			if err := s.Update(t.Context(), ctl, uint64(n), pair(n)); err != nil {
				t.Errorf("Update %d: %v", n, err)
				return
			}
		}
	})
	within(t, "the readers", wg.Wait)
	wantCheckpoint(t, s, rounds, 0)
}

// readUntil reads and checks until done, then once more.
func readUntil(t *testing.T, s projections.Store, done *atomic.Bool) {
	var last uint64
	for stop := false; !stop; {
		stop = done.Load()
		cp, err := s.Checkpoint(t.Context())
		if err != nil || cp[ctl] < last {
			t.Errorf("checkpoint %v after %d (%v)", cp, last, err)
			return
		}
		last = cp[ctl]
		if err := checkRound(t, s, last); err != nil {
			t.Error(err)
			return
		}
	}
}

// checkRound reads the pair and checks it against checkpoint cp.
func checkRound(t *testing.T, s projections.Store, cp uint64) error {
	docs, _, err := s.List(t.Context(), "pair", "t1", projections.Page{Limit: 10})
	if err != nil || cp == 0 {
		return err
	}
	if len(docs) < 2 {
		return fmt.Errorf("at checkpoint %d the list holds %d docs", cp, len(docs))
	}
	n := roundOf(docs[0])
	for _, d := range docs {
		if roundOf(d) != n {
			return fmt.Errorf("one List shows rounds %d and %d", n, roundOf(d))
		}
	}
	if wantC := n%3 != 0; (len(docs) == 3) != wantC || uint64(n) < cp {
		return fmt.Errorf("round %d (checkpoint %d) lists %d docs", n, cp, len(docs))
	}
	a, err := s.Lookup(t.Context(), "pair", fmt.Sprintf("n:%d", n))
	if err == nil && roundOf(a) < n {
		return fmt.Errorf("key n:%d leads to round %d", n, roundOf(a))
	}
	return nil
}

func roundOf(d projections.Doc) int {
	var v struct{ N int }
	_ = json.Unmarshal(d.Body, &v)
	return v.N
}

// testUpdatesAreSerialized: two writers racing for the same stream never
// run their transactions at once, and every Update of one round but one
// finds its checkpoint stale.
func testUpdatesAreSerialized(t *testing.T, s projections.Store) {
	var inside, overlaps, committed atomic.Int32
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for n := 1; n <= 50; n++ {
				err := s.Update(t.Context(), ctl, uint64(n), func(tx projections.Tx) error {
					if inside.Add(1) > 1 {
						overlaps.Add(1)
					}
					defer inside.Add(-1)
					return tx.Put(doc("race", fmt.Sprintf("%d", n), "t1", "1", fmt.Sprintf(`{"w":%d}`, w)))
				})
				if err == nil {
					committed.Add(1)
				} else if !errors.Is(err, projections.ErrStaleCheckpoint) {
					t.Errorf("Update %d: %v", n, err)
				}
			}
		})
	}
	within(t, "racing writers", wg.Wait)
	if overlaps.Load() != 0 || committed.Load() != 50 {
		t.Fatalf("%d transactions overlapped; %d of 50 rounds committed", overlaps.Load(), committed.Load())
	}
	wantCheckpoint(t, s, 50, 0)
}

// testCheckpointWithinFn: within fn, Checkpoint reads the checkpoint the
// Update moves from, not the one it moves to.
func testCheckpointWithinFn(t *testing.T, s projections.Store) {
	mustWrite(t, s, func(projections.Tx) error { return nil })
	err := s.Update(t.Context(), ctl, 9, func(projections.Tx) error {
		var got uint64
		within(t, "Checkpoint within an Update", func() {
			cp, err := s.Checkpoint(t.Context())
			if err != nil {
				t.Errorf("Checkpoint: %v", err)
			}
			got = cp[ctl]
		})
		if got != 1 {
			return fmt.Errorf("within fn the checkpoint reads %d, want 1", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
