package postgres_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/projections/postgres"
	"github.com/gatehouse/gatehouse/projections/postgres/pgtest"
)

// op is one step of a random transaction.
type op struct {
	put  bool // else delete
	read bool // Get and Lookup instead
	doc  projections.Doc
}

// randomRound returns the steps of one large transaction over few ids and
// keys, so that documents are rewritten, deleted and written again and
// keys move between documents, with key conflicts on the way.
func randomRound(rng *rand.Rand) []op {
	ops := make([]op, 700)
	for i := range ops {
		id := fmt.Sprintf("d%03d", rng.IntN(300))
		var keys []string
		for range rng.IntN(3) {
			keys = append(keys, fmt.Sprintf("k%03d", rng.IntN(200)))
		}
		d := projections.Doc{Kind: []string{"app", "user"}[rng.IntN(2)], ID: id, Tenant: fmt.Sprintf("t%d", rng.IntN(3)),
			Sort: fmt.Sprintf("%02d", rng.IntN(20)), Keys: keys, Body: fmt.Appendf(nil, `{"n": %d}`, rng.IntN(5))}
		switch r := rng.IntN(10); {
		case r < 6:
			ops[i] = op{put: true, doc: d}
		case r < 8:
			ops[i] = op{doc: d}
		default:
			ops[i] = op{read: true, doc: d}
		}
	}
	return ops
}

// apply runs ops in tx and returns what they saw: each Put's outcome (a
// key conflict is not an error of the transaction) and each read.
func apply(tx projections.Tx, ops []op) (string, error) {
	var b strings.Builder
	for _, o := range ops {
		d := o.doc
		switch {
		case o.read:
			got, err := tx.Get(d.Kind, d.ID)
			fmt.Fprintf(&b, "get %s/%s %v %s %v|", d.Kind, d.ID, got.Keys, got.Body, errors.Is(err, projections.ErrNotFound))
			for _, k := range d.Keys {
				got, err := tx.Lookup(d.Kind, k)
				fmt.Fprintf(&b, "lookup %s %s %v|", k, got.ID, errors.Is(err, projections.ErrNotFound))
			}
		case o.put:
			err := tx.Put(d)
			if err != nil && !errors.Is(err, projections.ErrKeyConflict) {
				return "", err
			}
			fmt.Fprintf(&b, "put %s/%s %v|", d.Kind, d.ID, err != nil)
		default:
			if err := tx.Delete(d.Kind, d.ID); err != nil {
				return "", err
			}
		}
	}
	return b.String(), nil
}

// TestRandomAgainstMemory: large random transactions (rewrites, deletes,
// keys moving, conflicts, a rolled-back round) leave in PostgreSQL, with
// or without the cache, what they leave in memory, and see the same
// things on the way.
func TestRandomAgainstMemory(t *testing.T) {
	pool := pgtest.Pool(t, "")
	for name, size := range map[string]int{"Cached": 0, "Uncached": -1, "Evicting": 100} {
		t.Run(name, func(t *testing.T) {
			pg := open(t, pool, postgres.Config{CacheSize: size})
			mem := memory.New()
			rng := rand.New(rand.NewPCG(7, 11))
			for round := uint64(1); round <= 6; round++ {
				ops := randomRound(rng)
				fail := round == 4
				var seen [2]string
				for i, s := range []projections.Store{mem, pg} {
					err := s.Update(t.Context(), events.Control, round, func(tx projections.Tx) (err error) {
						seen[i], err = apply(tx, ops)
						if err == nil && fail {
							err = errRollback
						}
						return err
					})
					if fail && errors.Is(err, errRollback) {
						continue
					}
					if err != nil {
						t.Fatalf("round %d, store %d: %v", round, i, err)
					}
				}
				if seen[0] != seen[1] {
					t.Fatalf("round %d: the transactions saw different things", round)
				}
				if fail {
					_ = mem.Update(t.Context(), events.Control, round, func(projections.Tx) error { return nil })
					_ = pg.Update(t.Context(), events.Control, round, func(projections.Tx) error { return nil })
				}
			}
			wantSameAsMemoryAll(t, pg, mem)
		})
	}
}

var errRollback = errors.New("roll back")

// wantSameAsMemoryAll fails the test unless pg and mem hold the same
// documents, keys and checkpoints.
func wantSameAsMemoryAll(t *testing.T, pg *postgres.Store, mem *memory.Store) {
	t.Helper()
	got, err := pg.Docs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := mem.Docs(); !reflect.DeepEqual(got, want) {
		t.Fatalf("postgres holds %d documents, memory %d, or they differ", len(got), len(want))
	}
	for _, kind := range []string{"app", "user"} {
		for k := range 200 {
			key := fmt.Sprintf("k%03d", k)
			a, errA := pg.Lookup(t.Context(), kind, key)
			b, errB := mem.Lookup(t.Context(), kind, key)
			if a.ID != b.ID || (errA == nil) != (errB == nil) {
				t.Fatalf("%s %s: postgres %q %v, memory %q %v", kind, key, a.ID, errA, b.ID, errB)
			}
		}
	}
	cg, _ := pg.Checkpoint(t.Context())
	cm, _ := mem.Checkpoint(t.Context())
	if !reflect.DeepEqual(cg, cm) {
		t.Fatalf("checkpoints %v and %v", cg, cm)
	}
}
