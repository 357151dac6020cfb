package events

import (
	"context"
	"errors"
	"sync"
)

// GroupCommitter appends independent events — ones without expectations,
// such as token.minted — in shared atomic batches: whoever arrives while a
// batch is being written joins the next one, so one durable write (one
// fsync on a single node) acknowledges many callers. Latency stays that of
// one append; throughput grows with concurrency (DESIGN.md "The log":
// group commit, not weaker acknowledgements).
type GroupCommitter struct {
	log      Log
	maxBatch int
	in       chan *groupItem
	done     chan struct{}
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

// NewGroupCommitter starts a committer writing to log in batches of at most
// maxBatch events (the server's atomic batch limit is 1000) with workers
// writing batches concurrently.
func NewGroupCommitter(log Log, maxBatch, workers int) *GroupCommitter {
	if maxBatch <= 0 || maxBatch > 1000 {
		maxBatch = 500
	}
	if workers <= 0 {
		workers = 4
	}
	g := &GroupCommitter{log: log, maxBatch: maxBatch, in: make(chan *groupItem, maxBatch*workers), done: make(chan struct{})}
	for range workers {
		g.wg.Add(1)
		go g.run()
	}
	return g
}

// Append queues e and returns once it is durable in the log, with its
// sequence. All events given to one GroupCommitter must go to the same
// stream. It returns ctx's error if ctx ends first (the event may still be
// written) and ErrClosed after Close.
func (g *GroupCommitter) Append(ctx context.Context, e Event) (uint64, error) {
	// One bad event would fail its whole batch: refuse it here instead.
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

func (g *GroupCommitter) run() {
	defer g.wg.Done()
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

func (g *GroupCommitter) write(batch []*groupItem) {
	evs := make([]Event, len(batch))
	for i, it := range batch {
		evs[i] = it.ev
	}
	res, err := g.log.Append(context.Background(), Append{Events: evs})
	for i, it := range batch {
		if err == nil {
			it.seq = res.Seqs[i]
		}
		it.err = err
		close(it.ok)
	}
}
