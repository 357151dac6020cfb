package events

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// groupWait bounds every wait of the GroupCommitter tests.
const groupWait = 15 * time.Second

// fakeLog records the groups a GroupCommitter writes. Its first write
// blocks until release is closed, so that the test can queue a known group
// behind it. Each write answers what answer says, by default sequence
// call number × 1000 + index for each event.
type fakeLog struct {
	release chan struct{}
	answer  func(call int, evs []Event) (Result, error)

	mu      sync.Mutex
	groups  [][]string // event ids of each write
	packed  []bool
	started chan struct{} // closed when the first write has begun
}

func newFakeLog() *fakeLog {
	return &fakeLog{release: make(chan struct{}), started: make(chan struct{})}
}

// open lets the first write go on; it may be called more than once.
func (f *fakeLog) open() {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.release:
	default:
		close(f.release)
	}
}

// committer starts a GroupCommitter on log (f, or f wrapped), closed when
// the test ends, after f's first write is let go whatever the test did.
func committer(t *testing.T, f *fakeLog, log Log, maxBatch int) *GroupCommitter {
	return committerWorkers(t, f, log, maxBatch, 1)
}

// committerWorkers is committer with workers writers.
func committerWorkers(t *testing.T, f *fakeLog, log Log, maxBatch, workers int) *GroupCommitter {
	g := NewGroupCommitter(log, maxBatch, workers)
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.open()
		g.Close()
	})
	return g
}

func (f *fakeLog) write(evs []Event, packed bool) (Result, error) {
	f.mu.Lock()
	call := len(f.groups)
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	f.groups = append(f.groups, ids)
	f.packed = append(f.packed, packed)
	f.mu.Unlock()
	if call == 0 {
		close(f.started)
		<-f.release
	}
	if f.answer != nil {
		return f.answer(call, evs)
	}
	return seqsOf(call, evs), nil
}

// seqsOf is the fake's default answer to write number call.
func seqsOf(call int, evs []Event) Result {
	r := Result{Stream: StreamOf(evs[0].Aggregate.Type)}
	for i := range evs {
		r.Seqs = append(r.Seqs, uint64(call*1000+i))
	}
	return r
}

func (f *fakeLog) written() ([][]string, []bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.groups), slices.Clone(f.packed)
}

func (f *fakeLog) Append(_ context.Context, a Append) (Result, error) {
	return f.write(a.Events, false)
}
func (f *fakeLog) Read(context.Context, Ref) ([]Event, error) { return nil, ErrNotFound }
func (f *fakeLog) Follow(ctx context.Context, _ Stream, _ uint64, _ Handler) error {
	<-ctx.Done()
	return ctx.Err()
}
func (f *fakeLog) LastSeq(context.Context, Stream) (uint64, error) { return 0, nil }

// fakePacker is a fakeLog that packs.
type fakePacker struct{ *fakeLog }

func (f fakePacker) AppendPacked(_ context.Context, evs []Event) (Result, error) {
	return f.write(evs, true)
}

// outcome is what one GroupCommitter.Append returned.
type outcome struct {
	id  string
	seq uint64
	err error
}

// queueBehindFirst makes one Append that blocks in the log's first write,
// then n more queued behind it, one after the other so their order is
// known, and returns the ids in that order and a channel of outcomes.
func queueBehindFirst(t *testing.T, g *GroupCommitter, f *fakeLog, n int, typ string) ([]string, <-chan outcome) {
	t.Helper()
	out := make(chan outcome, n+1)
	var ids []string
	appendOne := func() {
		e := MustNew(Ref{Tenant: "acme", Type: typ, ID: NewID("x")}, System, time.Now(), TokenRevoked{JTI: "j", AppID: "a"})
		ids = append(ids, e.ID)
		go func() {
			seq, err := g.Append(context.Background(), e)
			out <- outcome{e.ID, seq, err}
		}()
	}
	appendOne()
	select {
	case <-f.started:
	case <-time.After(groupWait):
		t.Fatal("the first Append did not reach the log")
	}
	for i := range n {
		appendOne()
		waitFor(t, fmt.Sprintf("%d events queued", i+1), func() bool { return len(g.in) == i+1 })
	}
	return ids, out
}

// waitFor polls cond until it holds, failing the test after groupWait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(groupWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", groupWait, what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// collect returns n outcomes by event id.
func collect(t *testing.T, out <-chan outcome, n int) map[string]outcome {
	t.Helper()
	got := map[string]outcome{}
	for range n {
		select {
		case o := <-out:
			got[o.id] = o
		case <-time.After(groupWait):
			t.Fatalf("%d of %d Appends returned within %s", len(got), n, groupWait)
		}
	}
	return got
}

// TestGroupCommitterGroups: what queues while a write is under way is
// written as one packed group, in queue order, and each caller gets its
// own event's sequence.
func TestGroupCommitterGroups(t *testing.T) {
	f := newFakeLog()
	g := committer(t, f, fakePacker{f}, 0)
	ids, out := queueBehindFirst(t, g, f, 10, AggToken)
	f.open()
	got := collect(t, out, len(ids))
	groups, packed := f.written()
	if len(groups) != 2 || !slices.Equal(groups[0], ids[:1]) || !slices.Equal(groups[1], ids[1:]) || !slices.Equal(packed, []bool{true, true}) {
		t.Fatalf("writes %v (packed %v), want [%s] then the 10 queued %v, packed", groups, packed, ids[0], ids[1:])
	}
	for i, id := range ids {
		want := uint64(i - 1 + 1000)
		if i == 0 {
			want = 0
		}
		if o := got[id]; o.err != nil || o.seq != want {
			t.Errorf("Append %d: %d, %v; want %d", i, o.seq, o.err, want)
		}
	}
}

// TestGroupCommitterOneSmallGroupAtATime: while a group smaller than
// maxBatch is written, idle workers write nothing: the callers that arrive
// meanwhile wait and go together in the next group.
func TestGroupCommitterOneSmallGroupAtATime(t *testing.T) {
	f := newFakeLog()
	g := committerWorkers(t, f, fakePacker{f}, 0, 4)
	ids, out := queueBehindFirst(t, g, f, 6, AggToken) // stays queued
	f.open()
	collect(t, out, len(ids))
	if groups, _ := f.written(); len(groups) != 2 || !slices.Equal(groups[1], ids[1:]) {
		t.Fatalf("writes %v, want [%s] then %v together", groups, ids[0], ids[1:])
	}
}

// TestGroupCommitterFullGroupsConcurrently: a full group does not hold
// the others back: with two workers, the next full group is written while
// the first is still under way.
func TestGroupCommitterFullGroupsConcurrently(t *testing.T) {
	f := newFakeLog()
	g := committerWorkers(t, f, fakePacker{f}, 1, 2) // every group is full
	_, out := queueBehindFirst(t, g, f, 0, AggToken)
	e := MustNew(Ref{Tenant: "acme", Type: AggToken, ID: "tok_2"}, System, time.Now(), TokenRevoked{JTI: "j"})
	ctx, cancel := context.WithTimeout(context.Background(), groupWait)
	defer cancel()
	if seq, err := g.Append(ctx, e); err != nil || seq != 1000 {
		t.Fatalf("Append while another full group is being written: %d, %v; want 1000 (the second write)", seq, err)
	}
	f.open()
	collect(t, out, 1)
}

// TestGroupCommitterMaxBatch: a group holds at most maxBatch events.
func TestGroupCommitterMaxBatch(t *testing.T) {
	f := newFakeLog()
	g := committer(t, f, fakePacker{f}, 4)
	ids, out := queueBehindFirst(t, g, f, 4, AggToken) // the queue is full
	late := make(chan error, 1)
	go func() {
		_, err := g.Append(context.Background(), MustNew(Ref{Tenant: "acme", Type: AggToken, ID: "tok_late"}, System, time.Now(), TokenRevoked{JTI: "j"}))
		late <- err
	}()
	f.open()
	collect(t, out, len(ids))
	select {
	case err := <-late:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(groupWait):
		t.Fatal("the Append beyond the batch limit did not return")
	}
	groups, _ := f.written()
	if len(groups) != 3 || !slices.Equal(groups[1], ids[1:]) || len(groups[2]) != 1 {
		t.Fatalf("writes %v, want [%s], %v, then the late one", groups, ids[0], ids[1:])
	}
}

// TestGroupCommitterAppendAll: the events of one AppendAll are written
// in one group, in order and next to each other, and never split: when
// they would take a group past maxBatch they start the next one. The
// caller gets the last one's sequence.
func TestGroupCommitterAppendAll(t *testing.T) {
	f := newFakeLog()
	g := committer(t, f, fakePacker{f}, 4)
	ids, out := queueBehindFirst(t, g, f, 2, AggToken)
	var all []Event
	for i := range 3 {
		all = append(all, MustNew(Ref{Tenant: "acme", Type: AggToken, ID: fmt.Sprintf("tok_all%d", i)}, System, time.Now(), TokenRevoked{JTI: "j"}))
	}
	done := make(chan outcome, 1)
	go func() {
		seq, err := g.AppendAll(context.Background(), all...)
		done <- outcome{"all", seq, err}
	}()
	waitFor(t, "the AppendAll queued", func() bool { return len(g.in) == 3 })
	f.open()
	collect(t, out, len(ids))
	o := collect(t, done, 1)["all"]
	groups, _ := f.written()
	want := [][]string{ids[:1], ids[1:], {all[0].ID, all[1].ID, all[2].ID}}
	if !slices.EqualFunc(groups, want, slices.Equal[[]string]) {
		t.Fatalf("writes %v, want %v: the three together, in a group of their own (2 + 3 > maxBatch 4)", groups, want)
	}
	if o.err != nil || o.seq != 2002 {
		t.Fatalf("AppendAll: %d, %v; want 2002, its last event's sequence in the third write", o.seq, o.err)
	}
}

// TestGroupCommitterErrors: every caller of a failed group gets its error;
// when a packed write fails part way, the callers whose events were
// written get their sequences.
func TestGroupCommitterErrors(t *testing.T) {
	errBoom := errors.New("boom")
	for _, c := range []struct {
		name    string
		written int // of the queued group
	}{{"whole", 0}, {"part-way", 4}} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeLog()
			f.answer = func(call int, evs []Event) (Result, error) {
				if call != 1 {
					return seqsOf(call, evs), nil
				}
				r := Result{Stream: HighVolume}
				for range c.written {
					r.Seqs = append(r.Seqs, 77)
				}
				return r, fmt.Errorf("%w: %w", ErrUnavailable, errBoom)
			}
			g := committer(t, f, fakePacker{f}, 0)
			ids, out := queueBehindFirst(t, g, f, 10, AggToken)
			f.open()
			got := collect(t, out, len(ids))
			if o := got[ids[0]]; o.err != nil {
				t.Fatalf("the first group's Append: %v", o.err)
			}
			for i, id := range ids[1:] {
				o := got[id]
				if i < c.written {
					if o.err != nil || o.seq != 77 {
						t.Errorf("Append %d, written before the failure: %d, %v; want 77", i+1, o.seq, o.err)
					}
					continue
				}
				if !errors.Is(o.err, errBoom) || !errors.Is(o.err, ErrUnavailable) || o.seq != 0 {
					t.Errorf("Append %d of the failed group: %d, %v; want the write's error", i+1, o.seq, o.err)
				}
			}
		})
	}
}

// TestGroupCommitterShortResult: a log answering fewer sequences than
// events without an error fails the group instead of leaving callers
// without a sequence.
func TestGroupCommitterShortResult(t *testing.T) {
	f := newFakeLog()
	f.answer = func(call int, evs []Event) (Result, error) {
		r := seqsOf(call, evs)
		if call == 1 {
			r.Seqs = r.Seqs[:1]
		}
		return r, nil
	}
	g := committer(t, f, fakePacker{f}, 0)
	ids, out := queueBehindFirst(t, g, f, 3, AggToken)
	f.open()
	got := collect(t, out, len(ids))
	for _, id := range ids[1:] {
		if o := got[id]; o.err == nil || o.seq != 0 {
			t.Errorf("Append of a group answered with 1 sequence for 3 events: %d, %v; want an error", o.seq, o.err)
		}
	}
}

// TestGroupCommitterClose: Close writes what is queued before it returns;
// Append after Close returns ErrClosed.
func TestGroupCommitterClose(t *testing.T) {
	f := newFakeLog()
	g := committer(t, f, fakePacker{f}, 0)
	ids, out := queueBehindFirst(t, g, f, 5, AggToken)
	closed := make(chan struct{})
	go func() {
		g.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while a write was under way")
	default:
	}
	f.open()
	select {
	case <-closed:
	case <-time.After(groupWait):
		t.Fatal("Close did not return")
	}
	got := collect(t, out, len(ids))
	for i, id := range ids {
		if got[id].err != nil {
			t.Errorf("Append %d queued before Close: %v", i, got[id].err)
		}
	}
	if groups, _ := f.written(); len(groups) != 2 || len(groups[1]) != 5 {
		t.Fatalf("writes %v, want the first and the 5 queued", groups)
	}
	e := MustNew(Ref{Tenant: "acme", Type: AggToken, ID: "tok_late"}, System, time.Now(), TokenRevoked{JTI: "j"})
	if _, err := g.Append(context.Background(), e); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v, want %v", err, ErrClosed)
	}
	g.Close() // again: no panic, no wait
}

// TestGroupCommitterWithoutPacking: a log that cannot pack, or events of
// the control stream, get atomic batches (Log.Append).
func TestGroupCommitterWithoutPacking(t *testing.T) {
	for _, c := range []struct {
		name string
		log  func(*fakeLog) Log
		typ  string
	}{
		{"log-without-packer", func(f *fakeLog) Log { return f }, AggToken},
		{"control-stream", func(f *fakeLog) Log { return fakePacker{f} }, AggApp},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeLog()
			g := committer(t, f, c.log(f), 0)
			ids, out := queueBehindFirst(t, g, f, 3, c.typ)
			f.open()
			for _, o := range collect(t, out, len(ids)) {
				if o.err != nil {
					t.Fatal(o.err)
				}
			}
			if groups, packed := f.written(); len(groups) != 2 || !slices.Equal(packed, []bool{false, false}) {
				t.Fatalf("writes %v packed %v, want 2 atomic batches", groups, packed)
			}
		})
	}
}

// TestGroupCommitterRefusesBadEvents: an event that would fail its group
// is refused alone, before it is queued.
func TestGroupCommitterRefusesBadEvents(t *testing.T) {
	f := newFakeLog()
	f.open()
	g := committer(t, f, fakePacker{f}, 0)
	e := MustNew(Ref{Tenant: "acme", Type: AggToken, ID: "tok_1"}, System, time.Now(), TokenRevoked{JTI: "j"})
	e.Aggregate.ID = "tok.1"
	if _, err := g.Append(context.Background(), e); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Append of an event with a bad aggregate id: %v, want %v", err, ErrInvalid)
	}
	if groups, _ := f.written(); len(groups) != 0 {
		t.Fatalf("the bad event reached the log: %v", groups)
	}
}
