package jwks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/sealing"
)

// openLog starts the real embedded NATS server and opens a log with a
// fresh prefix on it.
func openLog(t *testing.T) events.Log {
	t.Helper()
	emb, err := events.StartEmbedded(events.EmbeddedConfig{Dir: t.TempDir()})
	if err != nil {
		t.Fatalf("embedded NATS: %v", err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := emb.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	var b [8]byte
	_, _ = rand.Read(b[:])
	log, err := events.Open(t.Context(), nc, events.Config{Prefix: "k" + hex.EncodeToString(b[:])})
	if err != nil {
		t.Fatalf("open log: %v", err)
	}
	return log
}

// barrier lets n callers through once all n have arrived.
type barrier struct {
	n       int
	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func newBarrier(n int) *barrier { return &barrier{n: n, all: make(chan struct{})} }

func (b *barrier) wait(ctx context.Context) error {
	b.mu.Lock()
	if b.arrived++; b.arrived == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// racingView holds every instance back, once it has read the keys, until
// all have: they all decide on the same key set before any appends.
type racingView struct {
	KeyView
	gate *atomic.Pointer[barrier]
}

func (v racingView) KeysAt(ctx context.Context, seq uint64) ([]projections.Key, error) {
	keys, err := v.KeyView.KeysAt(ctx, seq)
	if b := v.gate.Load(); b != nil && err == nil {
		err = b.wait(ctx)
	}
	return keys, err
}

// instance is one Gatehouse instance's key machinery over a shared log,
// wired as the server wires it: its own memory store kept by a real
// projector, a keyring and a Rotator reading that projection.
type instance struct {
	store *memory.Store
	keys  *Projected
	ring  *Keyring
	rot   *Rotator
}

func newInstance(t *testing.T, log events.Log, master *sealing.Sealer, cfg Config, gate *atomic.Pointer[barrier]) *instance {
	t.Helper()
	in := &instance{store: memory.New()}
	proj, err := projections.New(projections.Config{Log: log, Store: in.store, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := proj.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proj.Close() })
	in.keys = ProjectedKeys(proj, in.store)
	if in.ring, err = NewKeyring(master, in.keys); err != nil {
		t.Fatal(err)
	}
	in.rot, err = NewRotator(log, racingView{in.keys, gate}, master, cfg, WithKeyring(in.ring), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.rot.Close() })
	return in
}

func testLogger(t *testing.T) *slog.Logger { return slog.New(slog.NewTextHandler(t.Output(), nil)) }

// logEvents returns every event of the control stream, read from the log
// itself.
func logEvents(t *testing.T, log events.Log) []events.Event {
	t.Helper()
	last, err := log.LastSeq(t.Context(), events.Control)
	if err != nil || last == 0 {
		t.Fatalf("LastSeq = %d, %v", last, err)
	}
	var out []events.Event
	err = log.Follow(t.Context(), events.Control, 0, func(_ context.Context, e events.Event) error {
		if out = append(out, e); e.Seq >= last {
			return errCaughtUp
		}
		return nil
	})
	if !errors.Is(err, errCaughtUp) {
		t.Fatalf("read the log: %v", err)
	}
	return out
}

var errCaughtUp = errors.New("caught up")

// race runs f on every instance at once, all deciding on the same key set.
func race(t *testing.T, gate *atomic.Pointer[barrier], insts []*instance, f func(*instance) error) []error {
	t.Helper()
	gate.Store(newBarrier(len(insts)))
	defer gate.Store(nil)
	errs := make([]error, len(insts))
	var wg sync.WaitGroup
	for i, in := range insts {
		wg.Go(func() { errs[i] = f(in) })
	}
	wg.Wait()
	return errs
}

// countTypes counts the key events of the log by type.
func countTypes(es []events.Event) map[string]int {
	n := map[string]int{}
	for _, e := range es {
		n[e.Type]++
	}
	return n
}

// TestRotatorsRace: two instances' Rotators decide on the same key set at
// the same moment, on the real log, through genesis, a rotation and a
// removal; each time the log holds exactly one set of events.
func TestRotatorsRace(t *testing.T) {
	log, master, clk := openLog(t), masterKey(t), newClock()
	cfg := Config{Now: clk.Now}
	var gate atomic.Pointer[barrier]
	insts := []*instance{newInstance(t, log, master, cfg, &gate), newInstance(t, log, master, cfg, &gate)}
	tick := func(in *instance) error { return in.rot.tick(t.Context()) }
	for _, round := range []struct {
		name    string
		advance time.Duration
		want    map[string]int // key events in the log after the round
	}{
		{"genesis", 0, map[string]int{"key.created": 2, "key.activated": 1}},
		{"nothing due", day, map[string]int{"key.created": 2, "key.activated": 1}},
		{"rotation", 30 * day, map[string]int{"key.created": 3, "key.activated": 2, "key.retired": 1}},
		{"removal", 25 * time.Hour, map[string]int{"key.created": 3, "key.activated": 2, "key.retired": 1, "key.removed": 1}},
	} {
		clk.Advance(round.advance)
		for i, err := range race(t, &gate, insts, tick) {
			if err != nil {
				t.Fatalf("%s: instance %d: %v", round.name, i, err)
			}
		}
		if got := countTypes(logEvents(t, log)); !maps.Equal(got, round.want) {
			t.Fatalf("%s: the log holds %v, want %v", round.name, got, round.want)
		}
		sameKeyrings(t, round.name, insts)
	}
	for _, e := range logEvents(t, log) {
		assertNoPrivateKey(t, master, e)
	}
}

// sameKeyrings: every instance signs with one key and publishes one set.
func sameKeyrings(t *testing.T, round string, insts []*instance) {
	t.Helper()
	var kids []string
	var etags []string
	for _, in := range insts {
		a, err := in.ring.Active()
		if err != nil {
			t.Fatalf("%s: %v", round, err)
		}
		_, etag := in.ring.PublicJWKS()
		kids, etags = append(kids, a.KID()), append(etags, etag)
	}
	if len(slices.Compact(kids)) != 1 || len(slices.Compact(etags)) != 1 {
		t.Fatalf("%s: instances sign with %v and publish %v", round, kids, etags)
	}
}

// TestRotateNowRace: two administrators rotate at once on two instances;
// one rotation happens and the other caller is told of the conflict.
func TestRotateNowRace(t *testing.T) {
	log, master, clk := openLog(t), masterKey(t), newClock()
	var gate atomic.Pointer[barrier]
	insts := []*instance{newInstance(t, log, master, Config{Now: clk.Now}, &gate), newInstance(t, log, master, Config{Now: clk.Now}, &gate)}
	if err := insts[0].rot.tick(t.Context()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(day)
	rots := make([]Rotation, 2)
	errs := race(t, &gate, insts, func(in *instance) (err error) {
		i := slices.Index(insts, in)
		rots[i], err = in.rot.RotateNow(t.Context())
		return err
	})
	won := slices.IndexFunc(errs, func(err error) bool { return err == nil })
	lost := 1 - won
	if won < 0 || !errors.Is(errs[lost], events.ErrVersionConflict) {
		t.Fatalf("RotateNow errors = %v, want one nil and one version conflict", errs)
	}
	if err := insts[lost].ring.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	a, _ := insts[lost].ring.Active()
	if rots[won].Activated == "" || a.KID() != rots[won].Activated {
		t.Fatalf("winner activated %q, the other instance signs with %s", rots[won].Activated, a.KID())
	}
	want := map[string]int{"key.created": 3, "key.activated": 2, "key.retired": 1}
	if got := countTypes(logEvents(t, log)); !maps.Equal(got, want) {
		t.Fatalf("the log holds %v, want %v", got, want)
	}
}

// TestRotateNow walks an on-demand rotation: too soon after the last one
// it schedules a new next key for the end of its publish window, which the
// Rotator activates then; later, a published next key signs at once.
func TestRotateNow(t *testing.T) {
	log, master, clk := openLog(t), masterKey(t), newClock()
	cfg := Config{Now: clk.Now}.withDefaults()
	in := newInstance(t, log, master, cfg, new(atomic.Pointer[barrier]))
	ctx := t.Context()
	if err := in.rot.tick(ctx); err != nil {
		t.Fatal(err)
	}
	first, _ := in.ring.Active()

	rot, err := in.rot.RotateNow(ctx)
	if err != nil {
		t.Fatalf("RotateNow right after genesis: %v", err)
	}
	if rot.Activated != "" || rot.Next == "" || !rot.ActivateAt.Equal(clk.Now().Add(cfg.publishWindow())) || rot.Seq == 0 {
		t.Fatalf("RotateNow = %+v, want a next key activating after %s", rot, cfg.publishWindow())
	}
	wantSigner(t, in.ring, first.KID())
	wantJWKS(t, in.ring, 2) // the too-young next key was replaced

	clk.Advance(cfg.publishWindow() - time.Second)
	mustTick(t, in.rot)
	wantSigner(t, in.ring, first.KID())
	clk.Advance(time.Second)
	mustTick(t, in.rot)
	wantSigner(t, in.ring, rot.Next)
	wantJWKS(t, in.ring, 3) // first retired, rot.Next active, a new next

	clk.Advance(cfg.publishWindow())
	rot2, err := in.rot.RotateNow(ctx)
	if err != nil || rot2.Activated == "" || rot2.Next == "" {
		t.Fatalf("RotateNow with a published next key = %+v, %v; want it to sign now", rot2, err)
	}
	wantSigner(t, in.ring, rot2.Activated)
	wantJWKS(t, in.ring, 4) // two retired, active, next
}

func mustTick(t *testing.T, r *Rotator) {
	t.Helper()
	if err := r.tick(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func wantSigner(t *testing.T, ring *Keyring, kid string) {
	t.Helper()
	a, err := ring.Active()
	if err != nil || a.KID() != kid {
		t.Fatalf("active key = %v, %v; want %s", a, err, kid)
	}
	token, err := ring.Sign(claims, "at+jwt")
	if err != nil {
		t.Fatal(err)
	}
	if _, got, err := ring.Verify(token); err != nil || got != kid {
		t.Fatalf("token verifies as %q, %v; want %s", got, err, kid)
	}
}

func wantJWKS(t *testing.T, ring *Keyring, n int) {
	t.Helper()
	body, _ := ring.PublicJWKS()
	var set struct{ Keys []any }
	if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) != n {
		t.Fatalf("JWKS has %d keys (%v), want %d", len(set.Keys), err, n)
	}
}

// TestRotatorStartClose: the worker runs its first round on Start (the
// genesis, then refreshing the keyring), stops on Close, and can be
// started again.
func TestRotatorStartClose(t *testing.T) {
	log, master := openLog(t), masterKey(t)
	in := newInstance(t, log, master, Config{Interval: time.Millisecond}, new(atomic.Pointer[barrier]))
	loaded := make(chan struct{})
	var once sync.Once
	src := KeySourceFunc(func(ctx context.Context) ([]projections.Key, error) {
		keys, err := in.keys.ListKeys(ctx)
		if len(keys) > 0 {
			once.Do(func() { close(loaded) })
		}
		return keys, err
	})
	ring, err := NewKeyring(master, src)
	if err != nil {
		t.Fatal(err)
	}
	rot, err := NewRotator(log, in.keys, master, Config{Interval: time.Millisecond}, WithKeyring(ring), WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := rot.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := rot.Start(t.Context()); err == nil {
		t.Fatal("a second Start succeeded")
	}
	select {
	case <-loaded:
	case <-time.After(15 * time.Second):
		t.Fatal("the Rotator did not refresh the keyring with new keys")
	}
	if err := rot.Close(); err != nil {
		t.Fatal(err)
	}
	// Close waited for the round that listed the keys to end.
	if _, err := ring.Active(); err != nil {
		t.Fatalf("after the first rounds the keyring has no active key: %v", err)
	}
	if err := rot.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := rot.Start(t.Context()); err != nil {
		t.Fatalf("Start after Close: %v", err)
	}
	if err := rot.Close(); err != nil {
		t.Fatal(err)
	}
	if got := countTypes(logEvents(t, log)); got["key.created"] != 2 {
		t.Fatalf("the log holds %v after restarts, want the genesis only", got)
	}
}
