// Package projectionstest is the conformance suite of projections.Store:
// every behaviour the projector and the API rely on, races included. Each
// implementation's test file runs it:
//
//	func TestStore(t *testing.T) {
//		projectionstest.Run(t, func(t *testing.T) projections.Store { return memory.New() })
//	}
//
// newStore must return an empty store for each call; the suite closes it.
package projectionstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// Run runs the whole suite against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) projections.Store) {
	groups := []map[string]func(*testing.T, projections.Store){
		docTests, keyTests, updateTests, listTests, concurrencyTests, overlayTests, txListTests,
		retentionTests, idpTests, ownerTests,
	}
	for _, g := range groups {
		for _, name := range sortedNames(g) {
			t.Run(name, func(t *testing.T) {
				s := newStore(t)
				t.Cleanup(func() {
					if err := s.Close(); err != nil {
						t.Errorf("Close: %v", err)
					}
				})
				g[name](t, s)
			})
		}
	}
}

func sortedNames(m map[string]func(*testing.T, projections.Store)) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Timeout bounds every wait of the suite, so a deadlock fails a test
// instead of hanging it.
const Timeout = 10 * time.Second

var (
	ctl = events.Control
	hv  = events.HighVolume
)

// errBoom is what a failing fn returns.
var errBoom = errors.New("projectionstest: boom")

// doc builds a document; its body names it so tests can tell versions apart.
func doc(kind, id, tenant, sort, body string, keys ...string) projections.Doc {
	return projections.Doc{Kind: kind, ID: id, Tenant: tenant, Sort: sort, Keys: keys, Body: []byte(body)}
}

// next returns the sequence one above stream's checkpoint.
func next(t *testing.T, s projections.Store, stream events.Stream) uint64 {
	t.Helper()
	cp, err := s.Checkpoint(t.Context())
	if err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	return cp[stream] + 1
}

// write runs fn in an Update of the control stream at its next sequence.
func write(t *testing.T, s projections.Store, fn func(projections.Tx) error) error {
	t.Helper()
	return s.Update(t.Context(), ctl, next(t, s, ctl), fn)
}

// mustWrite is write that fails the test on error.
func mustWrite(t *testing.T, s projections.Store, fn func(projections.Tx) error) {
	t.Helper()
	if err := write(t, s, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// putAll returns an fn that puts docs.
func putAll(docs ...projections.Doc) func(projections.Tx) error {
	return func(tx projections.Tx) error {
		for _, d := range docs {
			if err := tx.Put(d); err != nil {
				return err
			}
		}
		return nil
	}
}

// mustGet returns kind/id or fails the test.
func mustGet(t *testing.T, r projections.Reader, kind, id string) projections.Doc {
	t.Helper()
	d, err := r.Get(t.Context(), kind, id)
	if err != nil {
		t.Fatalf("Get %s/%s: %v", kind, id, err)
	}
	return d
}

// wantDoc fails the test unless got is want, field by field and body byte
// for byte (Keys as the store returns them: sorted, without duplicates).
func wantDoc(t *testing.T, got, want projections.Doc) {
	t.Helper()
	want.Keys = slices.Compact(slices.Sorted(slices.Values(want.Keys)))
	if !bytes.Equal(got.Body, want.Body) {
		t.Fatalf("%s/%s body = %q, want %q", want.Kind, want.ID, got.Body, want.Body)
	}
	got.Body, want.Body = nil, nil
	if len(got.Keys) == 0 && len(want.Keys) == 0 {
		got.Keys, want.Keys = nil, nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("doc = %+v, want %+v", got, want)
	}
}

// wantErr fails the test unless err matches target.
func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

// wantMissing fails the test unless kind/id is absent.
func wantMissing(t *testing.T, r projections.Reader, kind, id string) {
	t.Helper()
	_, err := r.Get(t.Context(), kind, id)
	wantErr(t, err, projections.ErrNotFound)
}

// wantHolder fails the test unless key of kind is held by id ("" = nobody).
func wantHolder(t *testing.T, r projections.Reader, kind, key, id string) {
	t.Helper()
	d, err := r.Lookup(t.Context(), kind, key)
	if id == "" {
		wantErr(t, err, projections.ErrNotFound)
		return
	}
	if err != nil || d.ID != id {
		t.Fatalf("Lookup %s %q = %q, %v; want %q", kind, key, d.ID, err, id)
	}
}

// wantCheckpoint fails the test unless the store's checkpoint of each
// stream is the one given (absent streams must read 0).
func wantCheckpoint(t *testing.T, r projections.Reader, control, high uint64) {
	t.Helper()
	cp, err := r.Checkpoint(t.Context())
	if err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	if cp[ctl] != control || cp[hv] != high {
		t.Fatalf("checkpoint = %v, want %s:%d %s:%d", cp, ctl, control, hv, high)
	}
}

// listAll walks every page of kind/tenant with pages of limit.
func listAll(t *testing.T, r projections.Reader, kind, tenant string, limit int) []string {
	t.Helper()
	var ids []string
	p := projections.Page{Limit: limit}
	for range 10_000 {
		docs, next, err := r.List(t.Context(), kind, tenant, p)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if len(docs) > limit || (next != "" && len(docs) != limit) {
			t.Fatalf("List gave %d docs (limit %d) with next %q", len(docs), limit, next)
		}
		ids = append(ids, idsOf(docs)...)
		if next == "" {
			return ids
		}
		p.After = next
	}
	t.Fatal("List never ended")
	return nil
}

func idsOf(docs []projections.Doc) []string {
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids
}

// within runs f in a goroutine (so f must report with t.Error, not
// t.Fatal) and fails the test if f does not return within Timeout.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(Timeout):
		t.Fatalf("%s did not return within %s", what, Timeout)
	}
}

// snapshot is everything a reader can see of a few kinds and tenants,
// without their keys.
func snapshot(t *testing.T, r projections.Reader, kinds, tenants []string) string {
	t.Helper()
	out, err := trySnapshot(t.Context(), r, kinds, tenants)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// trySnapshot is snapshot for goroutines other than the test's.
func trySnapshot(ctx context.Context, r projections.Reader, kinds, tenants []string) (string, error) {
	var b bytes.Buffer
	cp, err := r.Checkpoint(ctx)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "checkpoint %d %d\n", cp[ctl], cp[hv])
	for _, k := range kinds {
		for _, tn := range tenants {
			docs, _, err := r.List(ctx, k, tn, projections.Page{Limit: 1000})
			if err != nil {
				return "", err
			}
			for _, d := range docs {
				fmt.Fprintf(&b, "%s/%s t=%s s=%s k=%v %s\n", d.Kind, d.ID, d.Tenant, d.Sort, d.Keys, d.Body)
			}
		}
	}
	return b.String(), nil
}

// ctxCanceled returns a context that is already canceled.
func ctxCanceled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}
