package webhooks

import (
	"context"
	"sync"
)

// DefaultPerEndpoint is a Limiter's default bound.
const DefaultPerEndpoint = 4

// Limiter bounds the attempts in flight to each endpoint (keyed by webhook
// id or URL): a slow or stuck endpoint holds at most its own slots, and
// attempts to other endpoints keep flowing. Its memory follows the
// endpoints in use: a key without holders or waiters is forgotten. The
// zero Limiter is not usable; NewLimiter makes one. Safe for concurrent
// use.
type Limiter struct {
	n  int
	mu sync.Mutex
	m  map[string]*slots
}

// slots of one endpoint: a token in ch per holder; users counts holders
// and waiters (the entry lives while it is above 0).
type slots struct {
	ch    chan struct{}
	users int
}

// NewLimiter returns a Limiter allowing n attempts in flight per endpoint
// (n <= 0: DefaultPerEndpoint).
func NewLimiter(n int) *Limiter {
	if n <= 0 {
		n = DefaultPerEndpoint
	}
	return &Limiter{n: n, m: map[string]*slots{}}
}

// TryAcquire takes a slot of key if one is free, without waiting. When ok,
// the caller must call release once the attempt ends (calling it again
// does nothing).
func (l *Limiter) TryAcquire(key string) (release func(), ok bool) {
	s := l.join(key)
	select {
	case s.ch <- struct{}{}:
		return l.releaser(key, s), true
	default:
		l.leave(key, s)
		return nil, false
	}
}

// Acquire waits for a slot of key, or until ctx ends (then it returns
// ctx's error and holds nothing). On success the caller must call release
// once the attempt ends (calling it again does nothing).
func (l *Limiter) Acquire(ctx context.Context, key string) (release func(), err error) {
	s := l.join(key)
	select {
	case s.ch <- struct{}{}:
		return l.releaser(key, s), nil
	case <-ctx.Done():
		l.leave(key, s)
		return nil, ctx.Err()
	}
}

// InFlight returns how many slots of key are held.
func (l *Limiter) InFlight(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, ok := l.m[key]; ok {
		return len(s.ch)
	}
	return 0
}

// Endpoints returns how many keys the Limiter remembers (those with
// holders or waiters).
func (l *Limiter) Endpoints() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}

// join counts a user of key's slots, creating them if needed.
func (l *Limiter) join(key string) *slots {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.m[key]
	if !ok {
		s = &slots{ch: make(chan struct{}, l.n)}
		l.m[key] = s
	}
	s.users++
	return s
}

// leave uncounts a user of key's slots, forgetting them after the last.
func (l *Limiter) leave(key string, s *slots) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.users--; s.users == 0 {
		delete(l.m, key)
	}
}

// releaser frees the slot a holder took, once.
func (l *Limiter) releaser(key string, s *slots) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			<-s.ch
			l.leave(key, s)
		})
	}
}
