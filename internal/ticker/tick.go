// Package ticker runs a function on a clock until a context ends: the
// loops of the workers that act on a fixed interval (Every: the key
// rotator, the retention clock ticker, the PostgreSQL writer lease's
// check) and of those that keep a schedule of their own (Schedule: the
// webhook dispatcher's retries, the vault's refreshes).
package ticker

import (
	"context"
	"sync"
	"time"
)

// Every calls f every d, the first time d from now, until ctx is done or
// f returns false.
func Every(ctx context.Context, d time.Duration, f func() bool) {
	t := time.NewTicker(d)
	defer t.Stop()
	run(ctx, t.C, nil, f)
}

// Schedule calls round at once, then again when the wait it returned has
// passed or wake receives (the schedule changed), whichever comes first,
// until ctx is done.
func Schedule(ctx context.Context, wake <-chan struct{}, round func() time.Duration) {
	t := time.NewTimer(0)
	defer t.Stop()
	run(ctx, t.C, wake, func() bool {
		t.Reset(round())
		return ctx.Err() == nil
	})
}

// run calls f each time tick or wake receives, until ctx is done or f
// returns false.
func run(ctx context.Context, tick <-chan time.Time, wake <-chan struct{}, f func() bool) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-wake:
		}
		// A select with ctx done and a tick ready picks either: a tick
		// must not call f once more after the context ended.
		if ctx.Err() != nil || !f() {
			return
		}
	}
}

// Wake is the wake-up of a Schedule: Kick never blocks, and kicks that
// come while one is pending count once (the round that follows sees
// every change they announce). The zero value is ready to use.
type Wake struct {
	once sync.Once
	c    chan struct{}
}

// C is the channel to hand to Schedule.
func (w *Wake) C() <-chan struct{} {
	w.once.Do(func() { w.c = make(chan struct{}, 1) })
	return w.c
}

// Kick makes the schedule run a round now, or as soon as the one under
// way ends.
func (w *Wake) Kick() {
	w.C()
	select {
	case w.c <- struct{}{}:
	default:
	}
}
