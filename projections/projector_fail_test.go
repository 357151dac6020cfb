package projections_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// flakyStore fails every Update while down is set, and says on failed
// when it has failed at least twice.
type flakyStore struct {
	projections.Store
	down     atomic.Bool
	failures atomic.Int32
	failed   chan struct{}
}

var errDown = errors.New("flaky: database down")

func (f *flakyStore) Update(ctx context.Context, s events.Stream, seq uint64, fn func(projections.Tx) error) error {
	if f.down.Load() {
		if f.failures.Add(1) == 2 {
			close(f.failed)
		}
		return errDown
	}
	return f.Store.Update(ctx, s, seq, fn)
}

// TestStoreFailuresAreRetried: a batch the store did not commit is tried
// again until it commits, applied once; meanwhile health shows the error.
func TestStoreFailuresAreRetried(t *testing.T) {
	env := newLog(t)
	store := &flakyStore{Store: memory.New(), failed: make(chan struct{})}
	store.down.Store(true)
	p := startProjector(t, env.log, store, nil)
	res := appendAll(t, env.log, appCreated("t1", "app_1", "one", "cid_1", 0), appRenamed("t1", "app_1", "two", 1))
	select {
	case <-store.failed:
	case <-time.After(wait):
		t.Fatal("the projector did not retry")
	}
	h := p.Health(t.Context())
	if err := h.Ready(1000); !errors.Is(err, errDown) {
		t.Fatalf("health while the store is down: %v (%+v)", err, h)
	}
	store.down.Store(false)
	if err := p.WaitFor(ctxT(t), res.Stream, res.Last()); err != nil {
		t.Fatal(err)
	}
	app, err := projections.GetApp(t.Context(), store, "t1", "app_1")
	if err != nil || app.Version != 2 || app.Name != "two" {
		t.Fatalf("after the store came back: %+v, %v", app, err)
	}
	if err := p.Health(t.Context()).Ready(0); err != nil {
		t.Fatalf("health after recovery: %v", err)
	}
}

// TestReducerErrorStopsStream: an event that cannot be applied stops its
// stream there, after the events before it, visibly (WaitFor, Health, the
// log); nothing after it is applied; the other stream goes on.
func TestReducerErrorStopsStream(t *testing.T) {
	env := newLog(t)
	logs := &syncbuf.Buffer{}
	store := memory.New()
	p := startProjector(t, env.log, store, logs)
	first := appendAll(t, env.log, appCreated("t1", "app_1", "one", "cid_1", 0))
	if err := p.WaitFor(ctxT(t), first.Stream, first.Last()); err != nil {
		t.Fatal(err)
	}
	// One atomic append, so most likely one batch: the rename is applied
	// in the failed attempt, then again alone.
	bad := appRenamed("t1", "app_missing", "x", 2)
	res := appendAll(t, env.log, appRenamed("t1", "app_1", "renamed", 1), bad, appCreated("t1", "app_2", "two", "cid_2", 3))
	err := p.WaitFor(ctxT(t), events.Control, res.Last())
	if !errors.Is(err, projections.ErrStopped) || !errors.Is(err, projections.ErrNotFound) || !strings.Contains(err.Error(), bad.ID) {
		t.Fatalf("WaitFor past the bad event: %v", err)
	}
	if got := p.Applied(events.Control); got != res.Seqs[0] {
		t.Fatalf("applied %d, want %d (everything before the bad event)", got, res.Seqs[0])
	}
	app, err := projections.GetApp(t.Context(), store, "t1", "app_1")
	if err != nil || app.Version != 2 || app.Name != "renamed" || app.LastSeq != res.Seqs[0] {
		t.Fatalf("the event before the bad one, applied once: %+v, %v", app, err)
	}
	if _, err := projections.GetApp(t.Context(), store, "t1", "app_2"); !errors.Is(err, projections.ErrNotFound) {
		t.Fatalf("an event after the bad one was applied: %v", err)
	}
	wantStoppedHealth(t, p, bad)
	if out := logs.String(); !strings.Contains(out, bad.ID) || !strings.Contains(out, "app.updated") {
		t.Fatalf("the log does not name the event:\n%s", out)
	}
	hv := appendAll(t, env.log, revoked("t1", "jti_1", 3))
	if err := p.WaitFor(ctxT(t), hv.Stream, hv.Last()); err != nil {
		t.Fatalf("the other stream stopped too: %v", err)
	}
}

func wantStoppedHealth(t *testing.T, p *projections.Projector, bad events.Event) {
	t.Helper()
	for _, s := range p.Health(t.Context()).Streams {
		if s.Stream != events.Control {
			continue
		}
		if !s.Stopped || s.Err == nil || !strings.Contains(s.Err.Error(), bad.ID) || s.Lag != 2 {
			t.Fatalf("health of the stopped stream: %+v", s)
		}
		return
	}
	t.Fatal("no health of the control stream")
}

// TestHealthShowsLag: before the projector runs, health shows how far
// behind the store is.
func TestHealthShowsLag(t *testing.T) {
	env := newLog(t)
	for i := range 5 {
		appendAll(t, env.log, revoked("t1", "jti_"+string(rune('a'+i)), i))
	}
	p, err := projections.New(projections.Config{Log: env.log, Store: memory.New()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	h := p.Health(t.Context())
	if h.Ready(4) == nil || h.Ready(5) != nil {
		t.Fatalf("health of a projector 5 events behind: %+v", h)
	}
	if err := p.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	catchUp(t, p)
	if err := p.Health(t.Context()).Ready(0); err != nil {
		t.Fatal(err)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := projections.New(projections.Config{Store: memory.New()}); err == nil {
		t.Fatal("New without a Log succeeded")
	}
}

// TestBoundedWaitIsUnavailable: a bounded wait without a deadline of its
// own fails after the bound with ErrUnavailable, naming the store's
// failure, while the store is down (a request then answers 503 instead of
// hanging), and succeeds once it is back; an unbounded one waits on.
func TestBoundedWaitIsUnavailable(t *testing.T) {
	env := newLog(t)
	store := &flakyStore{Store: memory.New(), failed: make(chan struct{})}
	store.down.Store(true)
	p := startProjector(t, env.log, store, nil)
	res := appendAll(t, env.log, appCreated("t1", "app_1", "one", "cid_1", 0))
	<-store.failed
	w := p.Bounded(100 * time.Millisecond)
	err := w.WaitFor(context.Background(), res.Stream, res.Last())
	if !errors.Is(err, projections.ErrUnavailable) || !strings.Contains(err.Error(), errDown.Error()) {
		t.Fatalf("bounded WaitFor with the store down = %v, want ErrUnavailable naming the failure", err)
	}
	if err := w.CatchUp(context.Background()); !errors.Is(err, projections.ErrUnavailable) {
		t.Fatalf("bounded CatchUp with the store down = %v, want ErrUnavailable", err)
	}
	done := make(chan error, 1)
	go func() { done <- p.WaitFor(context.Background(), res.Stream, res.Last()) }()
	select {
	case err := <-done:
		t.Fatalf("an unbounded wait ended while the store is down: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	store.down.Store(false)
	if err := <-done; err != nil {
		t.Fatalf("the unbounded wait after the store came back: %v", err)
	}
	if err := w.WaitFor(ctxT(t), res.Stream, res.Last()); err != nil {
		t.Fatalf("bounded WaitFor after the store came back: %v", err)
	}
	// Applied already: the bounded wait answers at once, on an ended
	// context too (as WaitFor does); an unknown stream is an error.
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.WaitFor(ended, res.Stream, res.Last()); err != nil {
		t.Fatalf("bounded WaitFor of an applied sequence on an ended context: %v", err)
	}
	if err := w.WaitFor(ended, "nosuch", 1); err == nil {
		t.Fatal("bounded WaitFor of an unknown stream succeeded")
	}
}
