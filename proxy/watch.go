package proxy

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// watcher ends the h1Transport exchanges that outlive their deadline or
// whose request is cancelled (the client gone): one goroutine, running
// only while exchanges are in flight, looks at them every watchTick and
// puts an overdue or abandoned exchange's connection deadline in the
// past, which ends its read or write at once. An exchange registers by
// locking one of watchShards shards (no allocation); a per-exchange
// context.WithTimeout and context.AfterFunc, which it replaces, cost a
// timer, two contexts and their parents' children maps per request
// (≈ 18 % of the proxy's allocations in issue 16's profile).
type watcher struct {
	shards [watchShards]watchShard
	next   atomic.Uint32 // the shard of the next connection
	sweep
}

// sweep is the goroutine of a watch of what is in flight (the h1
// transport's exchanges, the lane's requests): it runs only while
// something is, and looks at all of it every tick.
type sweep struct {
	inflight atomic.Int64
	running  atomic.Bool
}

// looker is what a sweep looks at, every tick.
type looker interface{ lookAll(now time.Time) }

// add counts one more in flight, and starts the goroutine that calls
// l.lookAll every tick when it is not running.
func (s *sweep) add(l looker, tick time.Duration) {
	if s.inflight.Add(1) == 1 && s.running.CompareAndSwap(false, true) {
		go s.run(l, tick)
	}
}

// done counts one less in flight.
func (s *sweep) done() { s.inflight.Add(-1) }

// run calls l.lookAll every tick, and returns when nothing is in flight.
func (s *sweep) run(l looker, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for now := range t.C {
		l.lookAll(now)
		if s.inflight.Load() > 0 {
			continue
		}
		s.running.Store(false)
		// What started after the load and before the store found the
		// sweep running: take it up again.
		if s.inflight.Load() == 0 || !s.running.CompareAndSwap(false, true) {
			return
		}
	}
}

const (
	watchShards = 16
	// watchTick is how late an exchange is ended past its deadline or
	// its cancellation, at most.
	watchTick = 10 * time.Millisecond
)

type watchShard struct {
	mu    sync.Mutex
	conns map[*h1Conn]struct{}
}

// watch is one connection's exchange under watch (guarded by its shard's
// lock): its deadline (zero: none), its request's cancellation, and why
// it was ended (nil while it was not).
type watch struct {
	shard    uint32
	deadline time.Time
	done     <-chan struct{}
	ctx      context.Context
	ended    error
}

// start watches c's exchange for ctx until deadline (zero: ctx's own
// deadline, if any).
func (w *watcher) start(c *h1Conn, ctx context.Context, deadline time.Time) {
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	s := &w.shards[c.w.shard]
	s.mu.Lock()
	c.w.deadline, c.w.done, c.w.ctx, c.w.ended = deadline, ctx.Done(), ctx, nil
	if s.conns == nil {
		s.conns = map[*h1Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	w.add(w, watchTick)
}

// stop ends the watch of c's exchange; it returns why the watcher ended
// the exchange (nil: it did not, and the connection's deadline is as it
// was).
func (w *watcher) stop(c *h1Conn) error {
	s := &w.shards[c.w.shard]
	s.mu.Lock()
	_, watched := s.conns[c]
	delete(s.conns, c)
	ended := c.w.ended
	c.w.done, c.w.ctx = nil, nil
	s.mu.Unlock()
	if watched {
		w.done()
	}
	return ended
}

// lookAll looks at the exchanges in flight (every watchTick).
func (w *watcher) lookAll(now time.Time) {
	for i := range w.shards {
		w.shards[i].look(w, now)
	}
}

// look ends the shard's exchanges past their deadline or cancelled.
func (s *watchShard) look(w *watcher, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		var why error
		select {
		case <-c.w.done:
			why = c.w.ctx.Err()
		default:
			if !c.w.deadline.IsZero() && !now.Before(c.w.deadline) {
				why = context.DeadlineExceeded
			}
		}
		if why == nil {
			continue
		}
		c.w.ended = why
		_ = c.conn.SetDeadline(time.Unix(1, 0))
		delete(s.conns, c)
		w.done()
	}
}
