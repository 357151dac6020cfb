package memory

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// TestChangesStampCommits: a result read through a StampingReader stays
// current until a commit writes or deletes a document or a key of a kind
// it read; a commit of another kind leaves it current; a read of the
// checkpoint is never current.
func TestChangesStampCommits(t *testing.T) {
	ctx := context.Background()
	s := New()
	seq := uint64(0)
	update := func(fn func(projections.Tx) error) {
		t.Helper()
		seq++
		if err := s.Update(ctx, events.Control, seq, fn); err != nil {
			t.Fatal(err)
		}
	}
	put := func(kind, id string, keys ...string) func(projections.Tx) error {
		return func(tx projections.Tx) error {
			return tx.Put(projections.Doc{Kind: kind, ID: id, Tenant: "t", Sort: id, Keys: keys, Body: []byte(`{}`)})
		}
	}
	update(put("app", "a1", "client_id:c1"))

	read := func(reads func(r projections.Reader)) projections.Stamps {
		sr, ok := projections.Stamping(s)
		if !ok {
			t.Fatal("the memory store counts no changes")
		}
		reads(sr)
		return sr.Stamps
	}
	st := read(func(r projections.Reader) {
		if _, err := r.Lookup(ctx, "app", "client_id:c1"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Get(ctx, "revoked_token", "a1/j1"); !errors.Is(err, projections.ErrNotFound) {
			t.Fatal(err)
		}
	})
	if len(st) != 2 || !st.Current(s) {
		t.Fatalf("stamps %v, current %v", st, st.Current(s))
	}
	update(put("webhook", "w1"))
	if !st.Current(s) && changeSlot("webhook") != changeSlot("app") && changeSlot("webhook") != changeSlot("revoked_token") {
		t.Fatal("a commit of another kind made the result stale")
	}
	update(put("revoked_token", "a1/j1"))
	if st.Current(s) {
		t.Fatal("a revocation's commit left the result current")
	}

	st = read(func(r projections.Reader) { _, _ = r.Get(ctx, "app", "a1") })
	update(func(tx projections.Tx) error { return tx.Delete("app", "a1") })
	if st.Current(s) {
		t.Fatal("a deletion left the result current")
	}

	st = read(func(r projections.Reader) { _, _ = r.Checkpoint(ctx) })
	if st.Current(s) {
		t.Fatal("a read of the checkpoint is current")
	}
}
