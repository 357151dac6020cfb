package proxy

import (
	"sync"
	"sync/atomic"
	"time"
)

// clientWatch finds the lane's clients that go away while their request
// is in flight (the upstream has not answered, or a token is awaited),
// which net/http's server finds by a background read per request that
// the lane does without: one goroutine, running only while requests are
// in flight, looks every clientCheck at the clients of the requests it
// saw in flight at its previous look (so a request answered within
// clientCheck is never looked at), each with one non-waiting peek
// (laneConn.clientGone); a client that closed or reset its connection has
// its connection's context cancelled, which ends the exchange through
// either transport (the h1 transport's watcher, net/http's transport) and
// any wait for a token. A request registers by locking one of
// clientShards shards (no allocation).
type clientWatch struct {
	shards [clientShards]clientShard
	next   atomic.Uint32 // the shard of the next connection
	sweep
}

const (
	clientShards = 16
	// clientCheck is how often the clients of requests in flight are
	// looked at: a client gone is found between one and two clientCheck
	// after its request began, or within one after it went.
	clientCheck = 250 * time.Millisecond
)

type clientShard struct {
	mu sync.Mutex
	// conns are the connections whose request is in flight, and whether
	// the watch saw it in flight at a look before (its client is looked at
	// from the next).
	conns map[*laneConn]bool
}

// start watches lc's client until stop.
func (w *clientWatch) start(lc *laneConn) {
	s := &w.shards[lc.shard]
	s.mu.Lock()
	if s.conns == nil {
		s.conns = map[*laneConn]bool{}
	}
	s.conns[lc] = false
	s.mu.Unlock()
	w.add(w, clientCheck)
}

// stop ends the watch of lc's client.
func (w *clientWatch) stop(lc *laneConn) {
	s := &w.shards[lc.shard]
	s.mu.Lock()
	_, watched := s.conns[lc]
	delete(s.conns, lc)
	s.mu.Unlock()
	if watched {
		w.done()
	}
}

// lookAll looks at the clients (every clientCheck).
func (w *clientWatch) lookAll(time.Time) {
	for i := range w.shards {
		w.shards[i].look(w)
	}
}

// look cancels the requests of the shard's clients that are gone.
func (s *clientShard) look(w *clientWatch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for lc, seen := range s.conns {
		if !seen {
			s.conns[lc] = true
			continue
		}
		if !lc.clientGone() {
			continue
		}
		lc.cancel()
		delete(s.conns, lc)
		w.done()
	}
}
