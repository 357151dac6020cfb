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
	in       chan *groupItem
	wg       sync.WaitGroup
	closeMu  sync.RWMutex
	closed   bool
}

type groupItem struct {
	ev  Event
	seq uint64
	err error
	ok  chan struct{}
}

// ErrClosed: the GroupCommitter was closed.
var ErrClosed = errors.New("events: closed")

// Defaults of NewGroupCommitter, measured with BenchmarkAppend
// (group-commit-packed-32-concurrent) on the embedded server: two writers
// keep one message being synced while the next group fills, and no group
// of 32 concurrent callers comes near the batch limit.
const (
	DefaultGroupBatch   = 500
	DefaultGroupWorkers = 2
)

// maxGroupBatch is the server's limit on the messages of one atomic batch,
// which bounds a group that is not packed.
const maxGroupBatch = 1000

// NewGroupCommitter starts a committer writing to log in groups of at most
// maxBatch events (at most 1000; 0 for DefaultGroupBatch) with workers
// (0 for DefaultGroupWorkers) writing groups concurrently.
func NewGroupCommitter(log Log, maxBatch, workers int) *GroupCommitter {
	if maxBatch <= 0 || maxBatch > maxGroupBatch {
		maxBatch = DefaultGroupBatch
	}
	if workers <= 0 {
		workers = DefaultGroupWorkers
	}
	g := &GroupCommitter{log: log, maxBatch: maxBatch, in: make(chan *groupItem, maxBatch*workers)}
	g.packer, _ = log.(Packer)
	for range workers {
		g.wg.Go(g.run)
	}
	return g
}

// Append queues e and returns once it is durable in the log, with its
// sequence. All events given to one GroupCommitter must go to the same
// stream. It returns ctx's error if ctx ends first (the event may still be
// written) and ErrClosed after Close.
func (g *GroupCommitter) Append(ctx context.Context, e Event) (uint64, error) {
	// One bad event would fail its whole group: refuse it here instead.
	if _, err := checkAppend(Append{Events: []Event{e}}); err != nil {
		return 0, err
	}
	it := &groupItem{ev: e, ok: make(chan struct{})}
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

// Close stops accepting events, writes what was queued and waits.
func (g *GroupCommitter) Close() {
	g.closeMu.Lock()
	if !g.closed {
		g.closed = true
		close(g.in)
	}
	g.closeMu.Unlock()
	g.wg.Wait()
}

// run writes groups until Close: a group is whatever is queued when the
// worker is free, up to maxBatch, without waiting for more.
func (g *GroupCommitter) run() {
	batch := make([]*groupItem, 0, g.maxBatch)
	for it := range g.in {
		batch = append(batch[:0], it)
	fill:
		for len(batch) < g.maxBatch {
			select {
			case more, ok := <-g.in:
				if !ok {
					break fill
				}
				batch = append(batch, more)
			default:
				break fill
			}
		}
		g.write(batch)
	}
}

// write appends one group and answers its callers. When a packed append
// fails part way, the callers whose events were written get their
// sequence, the others the error.
func (g *GroupCommitter) write(batch []*groupItem) {
	evs := make([]Event, len(batch))
	for i, it := range batch {
		evs[i] = it.ev
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
	for i, it := range batch {
		if i < len(res.Seqs) {
			it.seq = res.Seqs[i]
		} else {
			it.err = err
		}
		close(it.ok)
	}
}
