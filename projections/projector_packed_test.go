package projections_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// putCounter is a store that counts, per document, the Puts of the
// Updates it committed, and records those Updates' checkpoints and sizes.
// fail, when set, makes a Put of that document id fail.
type putCounter struct {
	projections.Store
	fail string

	mu      sync.Mutex
	puts    map[string]int
	updates []update
}

type update struct {
	seq  uint64
	puts int
}

func newPutCounter() *putCounter {
	return &putCounter{Store: memory.New(), puts: map[string]int{}}
}

func (c *putCounter) Update(ctx context.Context, s events.Stream, seq uint64, fn func(projections.Tx) error) error {
	var ids []string
	err := c.Store.Update(ctx, s, seq, func(tx projections.Tx) error {
		ids = ids[:0] // a retried fn starts over
		return fn(&countingTx{Tx: tx, fail: c.fail, ids: &ids})
	})
	if err == nil {
		c.mu.Lock()
		for _, id := range ids {
			c.puts[id]++
		}
		c.updates = append(c.updates, update{seq: seq, puts: len(ids)})
		c.mu.Unlock()
	}
	return err
}

// take returns the Puts per document and the Updates so far, and forgets
// the Updates.
func (c *putCounter) take() (map[string]int, []update) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := c.updates
	c.updates = nil
	return maps.Clone(c.puts), u
}

type countingTx struct {
	projections.Tx
	fail string
	ids  *[]string
}

var errBadDoc = errors.New("test: this document cannot be written")

func (tx *countingTx) Put(d projections.Doc) error {
	if d.ID == tx.fail {
		return errBadDoc
	}
	if err := tx.Tx.Put(d); err != nil {
		return err
	}
	if d.Kind == projections.KindRevokedToken { // not the retention's bookkeeping
		*tx.ids = append(*tx.ids, d.ID)
	}
	return nil
}

// revocations returns n token.revoked events of jtis prefix_0…prefix_n-1.
func revocations(prefix string, n int) []events.Event {
	evs := make([]events.Event, n)
	for i := range evs {
		evs[i] = revoked("t1", fmt.Sprintf("%s_%d", prefix, i), i)
	}
	return evs
}

func appendPacked(t *testing.T, l *events.JetStream, evs []events.Event) events.Result {
	t.Helper()
	res, err := l.AppendPacked(ctxT(t), evs)
	if err != nil {
		t.Fatalf("AppendPacked: %v", err)
	}
	if res.Seqs[0] != res.Last() {
		t.Fatalf("AppendPacked(%d events) wrote several messages %v", len(evs), res.Seqs)
	}
	return res
}

// startSmallBatches starts a projector with BatchSize batch.
func startSmallBatches(t *testing.T, l events.Log, s projections.Store, batch int) *projections.Projector {
	t.Helper()
	p, err := projections.New(projections.Config{Log: l, Store: s, BatchSize: batch,
		RetryMin: time.Millisecond, RetryMax: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// wantEachOnce checks that every jti of evs was put exactly once.
func wantEachOnce(t *testing.T, puts map[string]int, evs []events.Event) {
	t.Helper()
	for _, e := range evs {
		p, err := events.Decode(e)
		if err != nil {
			t.Fatal(err)
		}
		r := p.(*events.TokenRevoked)
		jti := r.AppID + "/" + r.JTI // revocations are kept per app
		if puts[jti] != 1 {
			t.Errorf("%s applied %d times, want once (all puts: %v)", jti, puts[jti], puts)
		}
	}
}

// TestPackedMessageLargerThanBatch: a packed message of more events than
// BatchSize is applied in one Update at its sequence, never cut, so a
// restart resumes after it with nothing lost and nothing applied twice.
func TestPackedMessageLargerThanBatch(t *testing.T) {
	env := newLog(t)
	store := newPutCounter()
	before, after := revoked("t1", "jti_before", 0), revoked("t1", "jti_after", 20)
	appendAll(t, env.log, before)
	packed := revocations("jti_packed", 10)
	res := appendPacked(t, env.log, packed)
	last := appendAll(t, env.log, after)

	p := startSmallBatches(t, env.log, store, 4)
	if err := p.WaitFor(ctxT(t), events.HighVolume, last.Last()); err != nil {
		t.Fatal(err)
	}
	puts, updates := store.take()
	wantEachOnce(t, puts, append(append([]events.Event{before}, packed...), after))
	for _, u := range updates {
		if u.seq == res.Last() && u.puts < len(packed) {
			t.Fatalf("an Update at the packed message's sequence %d applied %d of its %d events: %+v", u.seq, u.puts, len(packed), updates)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart: nothing again; then a packed message while running.
	p = startSmallBatches(t, env.log, store, 4)
	catchUp(t, p)
	if _, u := store.take(); len(u) != 0 {
		t.Fatalf("the restarted projector applied %+v again", u)
	}
	more := revocations("jti_more", 9)
	res = appendPacked(t, env.log, more)
	if err := p.WaitFor(ctxT(t), events.HighVolume, res.Last()); err != nil {
		t.Fatal(err)
	}
	puts, _ = store.take()
	wantEachOnce(t, puts, append(packed, more...))
	cp, _ := store.Checkpoint(t.Context())
	if cp[events.HighVolume] != res.Last() {
		t.Fatalf("checkpoint %v, want high-volume at %d", cp, res.Last())
	}
}

// failingFollow is a Log whose first Follow of the high-volume stream
// fails after handing on cut events: inside a packed message.
type failingFollow struct {
	*events.JetStream
	cut    int
	failed atomic.Bool
}

var errFollowCut = errors.New("test: the connection dropped")

func (f *failingFollow) Follow(ctx context.Context, s events.Stream, after uint64, h events.Handler) error {
	return f.FollowTypes(ctx, s, after, nil, h)
}

// FollowTypes is the projector's way in (events.TypeFollower): it fails
// the same way.
func (f *failingFollow) FollowTypes(ctx context.Context, s events.Stream, after uint64, want func(string) bool, h events.Handler) error {
	if s != events.HighVolume || f.failed.Load() {
		return f.JetStream.FollowTypes(ctx, s, after, want, h)
	}
	n := 0
	err := f.JetStream.FollowTypes(ctx, s, after, want, func(ctx context.Context, e events.Event) error {
		if n == f.cut {
			f.failed.Store(true)
			return errFollowCut
		}
		n++
		return h(ctx, e)
	})
	return err
}

// TestFollowFailsInsideAPackedMessage: when the log's Follow fails after
// handing on part of a packed message, the projector follows again and
// applies the rest of the message, every event once.
func TestFollowFailsInsideAPackedMessage(t *testing.T) {
	env := newLog(t)
	first := revoked("t1", "jti_first", 0)
	appendAll(t, env.log, first)
	packed := revocations("jti_packed", 8)
	res := appendPacked(t, env.log, packed)
	log := &failingFollow{JetStream: env.log, cut: 1 + 3} // jti_first, then 3 of the message
	store := newPutCounter()
	p := startSmallBatches(t, log, store, 512)
	if err := p.WaitFor(ctxT(t), events.HighVolume, res.Last()); err != nil {
		t.Fatal(err)
	}
	if !log.failed.Load() {
		t.Fatal("the Follow did not fail inside the message")
	}
	puts, _ := store.take()
	wantEachOnce(t, puts, append([]events.Event{first}, packed...))
}

// TestBadEventInAPackedMessage: an event of a packed message that cannot be
// applied stops the stream before its message, so the checkpoint never
// says it was applied; the events of the message before it are not applied
// either (they share its sequence).
func TestBadEventInAPackedMessage(t *testing.T) {
	env := newLog(t)
	first := appendAll(t, env.log, revoked("t1", "jti_first", 0))
	packed := revocations("jti_packed", 5) // jti_packed_2 cannot be written
	res := appendPacked(t, env.log, packed)
	store := newPutCounter()
	store.fail = "app_1/jti_packed_2"
	p := startSmallBatches(t, env.log, store, 512)
	err := p.WaitFor(ctxT(t), events.HighVolume, res.Last())
	if !errors.Is(err, projections.ErrStopped) || !errors.Is(err, errBadDoc) || !strings.Contains(err.Error(), packed[2].ID) {
		t.Fatalf("WaitFor past the bad event: %v", err)
	}
	if got := p.Applied(events.HighVolume); got != first.Last() {
		t.Fatalf("applied %d, want %d (the message before the bad event's)", got, first.Last())
	}
	cp, _ := store.Checkpoint(t.Context())
	if cp[events.HighVolume] != first.Last() {
		t.Fatalf("checkpoint %v, want high-volume at %d", cp, first.Last())
	}
	puts, _ := store.take()
	if want := map[string]int{"app_1/jti_first": 1}; !maps.Equal(puts, want) {
		t.Fatalf("applied %v, want %v: nothing of the bad event's message", slices.Sorted(maps.Keys(puts)), want)
	}
}
