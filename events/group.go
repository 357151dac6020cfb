package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// GroupCommitter appends independent events — ones without expectations,
// such as token.minted — together: whoever arrives while a write is under
// way joins the next one, so one durable write (one fsync on a single node)
// acknowledges many callers. Latency stays that of one append; throughput
// grows with concurrency (DESIGN.md "The log": group commit, not weaker
// acknowledgements).
//
// When the log is a Packer and the events are of the HighVolume stream,
// each group is written with AppendPacked: one message, one acknowledgement
// for the whole group (the events then share a sequence and are not part
// of their aggregate's Read history, see Packer). Otherwise each group is
// one atomic batch (Log.Append), which costs the server much more per
// write.
type GroupCommitter struct {
	log      Log
	packer   Packer // log's, when it packs
	maxBatch int
	workers  int
	in       chan *groupItem
	// lead is held by the worker collecting a group, and by the one
	// writing a group that is not full: see run.
	lead    sync.Mutex
	wg      sync.WaitGroup
	closeMu sync.RWMutex
	closed  bool
	started bool
}

// groupItem is one caller's events: written in the same group, one after
// the other (see AppendAll).
type groupItem struct {
	evs []Event
	seq uint64
	err error
	ok  chan struct{}
}

// ErrClosed: the GroupCommitter was closed.
var ErrClosed = errors.New("events: closed")

// Defaults of NewGroupCommitter, measured with BenchmarkAppend
// (group-commit-packed-32-concurrent) on the embedded server, 2 cores.
// The server writes and syncs a stream's messages one after the other, so
// what counts is events per message. When two or four workers each wrote
// whatever was queued, they split 32 callers into messages of 9 and 5
// events (9,000-18,000 events/s, p99 12-24 ms) where one worker made
// messages of 16 (35,000-48,000 events/s, p99 1.5-6 ms). Hence extra
// workers write full groups only (see run): at 32 callers 1, 2 and 4
// workers now measure the same (16 events a message, 33,000-49,000
// events/s, p99 1.4-5 ms); with a backlog (512 callers, maxBatch 64) the
// difference was within the noise of the disk. Two keeps a full group's
// encoding overlapping the previous one's sync.
const (
	DefaultGroupBatch   = 500
	DefaultGroupWorkers = 2
)

// maxGroupBatch is the server's limit on the messages of one atomic batch,
// which bounds a group that is not packed.
const maxGroupBatch = 1000

// NewGroupCommitter builds a committer writing to log in groups of at
// most maxBatch events (at most 1000; 0 for DefaultGroupBatch) with up to
// workers (0 for DefaultGroupWorkers) writing groups concurrently: while a
// group smaller than maxBatch is being written, the next one waits and
// grows (see run). Start starts it; an Append before waits for Start.
func NewGroupCommitter(log Log, maxBatch, workers int) *GroupCommitter {
	if maxBatch <= 0 || maxBatch > maxGroupBatch {
		maxBatch = DefaultGroupBatch
	}
	if workers <= 0 {
		workers = DefaultGroupWorkers
	}
	g := &GroupCommitter{log: log, maxBatch: maxBatch, workers: workers, in: make(chan *groupItem, maxBatch*workers)}
	g.packer, _ = log.(Packer)
	return g
}

// Start starts the writers. They run until Close (ctx is not theirs: a
// group being written is finished); a second Start, or one after Close,
// is an error.
func (g *GroupCommitter) Start(context.Context) error {
	g.closeMu.Lock()
	defer g.closeMu.Unlock()
	if g.started || g.closed {
		return errors.New("events: group committer started twice or closed")
	}
	g.started = true
	for range g.workers {
		g.wg.Go(g.run)
	}
	return nil
}

// Append queues e and returns once it is durable in the log, with its
// sequence (shared with the rest of its group when packed). All events
// given to one GroupCommitter must go to the same stream. It returns ctx's
// error if ctx ends first (the event may still be written) and ErrClosed
// after Close.
func (g *GroupCommitter) Append(ctx context.Context, e Event) (uint64, error) {
	return g.AppendAll(ctx, e)
}

// AppendAll is Append of several events that go together: they are
// written in the same group, in order and next to each other, so when
// packed they are one message (unless they alone overflow one), and one
// atomic batch otherwise. It returns the sequence of the last of them.
// (A token request's grant event and its token.minted go this way, see
// package idp.)
func (g *GroupCommitter) AppendAll(ctx context.Context, evs ...Event) (uint64, error) {
	// One bad event would fail its whole group: refuse it here instead.
	if _, err := checkAppend(Append{Events: evs}); err != nil {
		return 0, err
	}
	it := &groupItem{evs: evs, ok: make(chan struct{})}
	g.closeMu.RLock()
	if g.closed {
		g.closeMu.RUnlock()
		return 0, ErrClosed
	}
	select {
	case g.in <- it:
		g.closeMu.RUnlock()
	case <-ctx.Done():
		g.closeMu.RUnlock()
		return 0, ctx.Err()
	}
	select {
	case <-it.ok:
		return it.seq, it.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Close stops accepting events, writes what was queued and waits. Events
// queued on a committer never started fail with ErrClosed.
func (g *GroupCommitter) Close() error {
	g.closeMu.Lock()
	if !g.closed {
		g.closed = true
		close(g.in)
		if !g.started {
			for it := range g.in {
				it.err = ErrClosed
				close(it.ok)
			}
		}
	}
	g.closeMu.Unlock()
	g.wg.Wait()
	return nil
}

// run writes groups until Close: a group is whatever is queued when the
// worker takes the lead, up to maxBatch events, without waiting for more.
// The worker keeps the lead while it writes a group that is not full, so
// no other group is written meanwhile: the callers that arrive wait for
// that write and then go together, in one message, instead of splitting
// into several small ones that the server would sync one by one. A full
// group hands the lead on before it is written: there is a backlog, and
// another worker may write the next full group concurrently. A caller's
// events are never split: one that would take the group past maxBatch
// (AppendAll) starts this worker's next group.
func (g *GroupCommitter) run() {
	batch := make([]*groupItem, 0, g.maxBatch)
	var carry *groupItem
	for {
		g.lead.Lock()
		it := carry
		if it == nil {
			var ok bool
			if it, ok = <-g.in; !ok {
				g.lead.Unlock()
				return
			}
		}
		carry = nil
		batch = append(batch[:0], it)
		n := len(it.evs)
	fill:
		for n < g.maxBatch {
			select {
			case more, ok := <-g.in:
				if !ok {
					break fill
				}
				if n+len(more.evs) > g.maxBatch {
					carry = more
					break fill
				}
				batch = append(batch, more)
				n += len(more.evs)
			default:
				break fill
			}
		}
		if n >= g.maxBatch || carry != nil {
			g.lead.Unlock()
			g.write(batch)
			continue
		}
		g.write(batch)
		g.lead.Unlock()
	}
}

// write appends one group and answers its callers. When a packed append
// fails part way, the callers whose events were written get their
// sequence, the others the error.
func (g *GroupCommitter) write(batch []*groupItem) {
	evs := make([]Event, 0, len(batch))
	for _, it := range batch {
		evs = append(evs, it.evs...)
	}
	var res Result
	var err error
	if g.packer != nil && StreamOf(evs[0].Aggregate.Type) == HighVolume {
		res, err = g.packer.AppendPacked(context.Background(), evs)
	} else {
		res, err = g.log.Append(context.Background(), Append{Events: evs})
	}
	if err == nil && len(res.Seqs) != len(evs) {
		err = fmt.Errorf("events: the log returned %d sequences for %d events", len(res.Seqs), len(evs))
		res.Seqs = nil
	}
	end := 0 // past the item's last event
	for _, it := range batch {
		end += len(it.evs)
		if end <= len(res.Seqs) {
			it.seq = res.Seqs[end-1]
		} else {
			it.err = err
		}
		close(it.ok)
	}
}
