package projections_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// workload appends a history touching every projected event type, with
// unknown and unprojected types in between, to both streams; it returns
// the last sequence of each stream.
func workload(t testing.TB, l events.Log) map[events.Stream]uint64 {
	t.Helper()
	last := map[events.Stream]uint64{}
	add := func(evs ...events.Event) {
		res := appendAll(t, l, evs...)
		last[res.Stream] = res.Last()
	}
	add(ev("system", events.AggSystem, "bootstrap", 0, &events.SystemBootstrapped{Tenant: "default", AdminAppID: "app_0"}),
		ev("default", events.AggTenant, "default", 0, &events.TenantCreated{Name: "default", AdminAppID: "app_0"}),
		appCreated("default", "app_0", "admin", "admin", 0))
	for i := 1; i <= 30; i++ {
		add(appCreated("t1", fmt.Sprintf("app_%d", i), fmt.Sprintf("app %d", i), fmt.Sprintf("cid_%d", i), i))
	}
	for i := 1; i <= 30; i += 3 {
		add(appRenamed("t1", fmt.Sprintf("app_%d", i), fmt.Sprintf("renamed %d", i), 100+i))
		add(revoked("t1", fmt.Sprintf("jti_%d", i), 100+i))
	}
	add(futureEvent("t1", 200), appDeleted("t1", "app_2", "cid_2", 201), appDeleted("t1", "app_5", "cid_5", 202))
	add(appCreated("t1", "app_31", "app 2", "cid_31", 203)) // reuses app_2's name
	return last
}

// catchUp waits until p has applied the whole log.
func catchUp(t testing.TB, p *projections.Projector) {
	t.Helper()
	if err := p.CatchUp(ctxT(t)); err != nil {
		t.Fatalf("CatchUp: %v", err)
	}
}

// countingStore records the Updates that reach a store.
type countingStore struct {
	projections.Store
	mu      sync.Mutex
	updates []string
}

func (c *countingStore) Update(ctx context.Context, s events.Stream, seq uint64, fn func(projections.Tx) error) error {
	err := c.Store.Update(ctx, s, seq, fn)
	if err == nil {
		c.mu.Lock()
		c.updates = append(c.updates, fmt.Sprintf("%s:%d", s, seq))
		c.mu.Unlock()
	}
	return err
}

func (c *countingStore) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := c.updates
	c.updates = nil
	return u
}

// TestRebuildIsExact: a fresh store fed the same log holds the same
// documents, byte for byte, and the same checkpoints (DESIGN.md invariant
// 6).
func TestRebuildIsExact(t *testing.T) {
	env := newLog(t)
	last := workload(t, env.log)
	a, b := memory.New(), memory.New()
	pa := startProjector(t, env.log, a, nil)
	catchUp(t, pa)
	if err := pa.Close(); err != nil {
		t.Fatal(err)
	}
	catchUp(t, startProjector(t, env.log, b, nil))
	wantSameStores(t, a, b)
	cp, _ := a.Checkpoint(t.Context())
	if cp[events.Control] != last[events.Control] || cp[events.HighVolume] != last[events.HighVolume] {
		t.Fatalf("checkpoint %v, log ends at %v", cp, last)
	}
	if len(a.Docs()) < 30 {
		t.Fatalf("only %d documents: the workload did not project", len(a.Docs()))
	}
}

// TestBatchesAndCacheChangeNothing: what the projector builds (batches,
// decoded-view cache) is what applying each event alone, decoding every
// document, builds.
func TestBatchesAndCacheChangeNothing(t *testing.T) {
	env := newLog(t)
	workload(t, env.log)
	// The same app changing many times within one batch uses the cache.
	for i := range 20 {
		appendAll(t, env.log, appRenamed("t1", "app_7", fmt.Sprintf("seven %d", i), 300+i))
	}
	a := memory.New()
	catchUp(t, startProjector(t, env.log, a, nil))
	wantSameStores(t, a, replayAlone(t, env.log))
}

// TestProjectorsShareAStore: two projectors writing one store (two
// instances on one database) apply every event once.
func TestProjectorsShareAStore(t *testing.T) {
	env := newLog(t)
	shared := memory.New()
	p1 := startProjector(t, env.log, shared, nil)
	p2 := startProjector(t, env.log, shared, nil)
	workload(t, env.log)
	for i := range 40 {
		appendAll(t, env.log, appRenamed("t1", "app_9", fmt.Sprintf("nine %d", i), 400+i))
	}
	catchUp(t, p1)
	catchUp(t, p2)
	wantSameStores(t, shared, replayAlone(t, env.log))
}

// replayAlone applies every event of the log in an Update of its own.
func replayAlone(t *testing.T, l events.Log) *memory.Store {
	t.Helper()
	s := memory.New()
	for _, stream := range events.Streams {
		last, err := l.LastSeq(t.Context(), stream)
		if err != nil || last == 0 {
			continue
		}
		ctx, cancel := context.WithCancel(ctxT(t))
		err = l.Follow(ctx, stream, 0, func(ctx context.Context, e events.Event) error {
			if err := s.Update(ctx, stream, e.Seq, func(tx projections.Tx) error { return projections.Apply(tx, e) }); err != nil {
				return err
			}
			if e.Seq == last {
				cancel()
			}
			return nil
		})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("replaying %s: %v", stream, err)
		}
	}
	return s
}

func wantSameStores(t *testing.T, a, b *memory.Store) {
	t.Helper()
	da, db := a.Docs(), b.Docs()
	// Two empty stores are equal too: the workload must have projected
	// (it makes well over 30 documents).
	if len(da) < 30 {
		t.Fatalf("only %d documents: nothing to compare, the workload did not project", len(da))
	}
	if !reflect.DeepEqual(da, db) {
		t.Fatalf("stores differ:\n%d docs %v\n%d docs %v", len(da), da, len(db), db)
	}
	ca, _ := a.Checkpoint(t.Context())
	cb, _ := b.Checkpoint(t.Context())
	if ca[events.Control] == 0 || ca[events.HighVolume] == 0 {
		t.Fatalf("checkpoint %v: a stream was never applied", ca)
	}
	if !reflect.DeepEqual(ca, cb) {
		t.Fatalf("checkpoints differ: %v and %v", ca, cb)
	}
}

// TestRestartResumes: a projector started again on a store that has
// applied the log applies nothing again, and goes on from there.
func TestRestartResumes(t *testing.T) {
	env := newLog(t)
	workload(t, env.log)
	store := &countingStore{Store: memory.New()}
	p := startProjector(t, env.log, store, nil)
	catchUp(t, p)
	_ = p.Close()
	before := store.Store.(*memory.Store).Docs()
	if len(store.take()) == 0 {
		t.Fatal("the first projector applied nothing")
	}
	p = startProjector(t, env.log, store, nil)
	catchUp(t, p)
	if u := store.take(); len(u) != 0 {
		t.Fatalf("the restarted projector applied %v again", u)
	}
	if after := store.Store.(*memory.Store).Docs(); !reflect.DeepEqual(before, after) {
		t.Fatal("the restart changed documents")
	}
	res := appendAll(t, env.log, appRenamed("t1", "app_3", "later", 500))
	if err := p.WaitFor(ctxT(t), res.Stream, res.Last()); err != nil {
		t.Fatal(err)
	}
	if u := store.take(); !reflect.DeepEqual(u, []string{fmt.Sprintf("control:%d", res.Last())}) {
		t.Fatalf("after one more event the updates were %v", u)
	}
	app, _ := projections.GetApp(t.Context(), store, "t1", "app_3")
	if app.Version != 2 || app.LastSeq != res.Last() || app.Name != "later" {
		t.Fatalf("app_3 after restart and rename: version %d, last seq %d, name %q", app.Version, app.LastSeq, app.Name)
	}
}

// TestReadYourWrites: once WaitFor returns for an append's sequence, a
// read sees the append.
func TestReadYourWrites(t *testing.T) {
	env := newLog(t)
	store := memory.New()
	p := startProjector(t, env.log, store, nil)
	res := appendAll(t, env.log, appCreated("t1", "app_1", "one", "cid_1", 0))
	for i := range 25 {
		if err := p.WaitFor(ctxT(t), res.Stream, res.Last()); err != nil {
			t.Fatal(err)
		}
		app, err := projections.GetApp(t.Context(), store, "t1", "app_1")
		if err != nil || app.LastSeq != res.Last() || app.Version != uint64(i+1) {
			t.Fatalf("round %d: %+v, %v; want last seq %d", i, app, err, res.Last())
		}
		res = appendAll(t, env.log, appRenamed("t1", "app_1", fmt.Sprintf("name %d", i), i+1))
	}
	if got := p.Applied(events.Control); got != res.Last()-1 && got != res.Last() {
		t.Fatalf("Applied = %d near %d", got, res.Last())
	}
}

// TestCatchUp: CatchUp returns once everything in the log when it was
// called is applied, and not before.
func TestCatchUp(t *testing.T) {
	env := newLog(t)
	last := workload(t, env.log)
	store := memory.New()
	p, err := projections.New(projections.Config{Log: env.log, Store: store})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := p.CatchUp(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("CatchUp of a projector not started: %v", err)
	}
	if err := p.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	catchUp(t, p)
	for s, seq := range last {
		if p.Applied(s) != seq {
			t.Fatalf("%s: applied %d, log at %d", s, p.Applied(s), seq)
		}
	}
	if _, err := projections.GetApp(t.Context(), store, "t1", "app_31"); err != nil {
		t.Fatalf("the last app is not there after CatchUp: %v", err)
	}
	if err := p.Health(t.Context()).Ready(0); err != nil {
		t.Fatalf("caught up but not ready: %v", err)
	}
}

// TestUnknownTypesAreSkipped: an event type of a newer build does not stop
// the projection.
func TestUnknownTypesAreSkipped(t *testing.T) {
	env := newLog(t)
	store := memory.New()
	p := startProjector(t, env.log, store, nil)
	appendAll(t, env.log, futureEvent("t1", 0))
	res := appendAll(t, env.log, appCreated("t1", "app_1", "one", "cid_1", 1))
	if err := p.WaitFor(ctxT(t), res.Stream, res.Last()); err != nil {
		t.Fatal(err)
	}
	if _, err := projections.GetApp(t.Context(), store, "t1", "app_1"); err != nil {
		t.Fatal(err)
	}
}

// TestCloseStops: Close returns promptly, ends every goroutine of the
// projector and of its Follows, and wakes waiters with ErrStopped.
func TestCloseStops(t *testing.T) {
	env := newLog(t)
	workload(t, env.log)
	p := startProjector(t, env.log, memory.New(), nil)
	catchUp(t, p)
	waited := make(chan error, 1)
	go func() { waited <- p.WaitFor(context.Background(), events.Control, 1<<40) }()
	closeWithin(t, p)
	select {
	case err := <-waited:
		if !errors.Is(err, projections.ErrStopped) {
			t.Fatalf("WaitFor after Close: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Close did not wake a waiter")
	}
	// Close waits for the projector's goroutines: none is left at once.
	if stacks := goroutines(); strings.Contains(stacks, "gatehouse/projections.(*Projector)") {
		t.Fatalf("a projector goroutine outlived Close:\n%s", stacks)
	}
	wantNoGoroutines(t, "events.(*JetStream).Follow")
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := p.Start(ctxT(t)); err == nil {
		t.Fatal("Start after Close succeeded")
	}
}

func closeWithin(t *testing.T, p *projections.Projector) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Close did not return")
	}
}

// wantNoGoroutines fails unless, within wait, no goroutine has a frame
// naming any of funcs. A goroutine ends a moment after it signals it is
// done, so this polls (as goleak does) until the deadline.
func wantNoGoroutines(t *testing.T, funcs ...string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		stacks := goroutines()
		i := slices.IndexFunc(funcs, func(f string) bool { return strings.Contains(stacks, f) })
		if i < 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a goroutine in %s outlived Close:\n%s", funcs[i], stacks)
		}
		time.Sleep(time.Millisecond)
	}
}

// goroutines returns the stacks of every goroutine.
func goroutines() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}
