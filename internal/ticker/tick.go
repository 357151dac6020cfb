// Package ticker runs a function on a clock until a context ends: the
// loops of the workers that act on a fixed interval (Every: the key
// rotator, the retention clock ticker, the PostgreSQL writer lease's
// check) and of those that keep a schedule of their own (Schedule: the
// webhook dispatcher's retries, the vault's refreshes).
package ticker

import (
	"context"
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
		if !f() {
			return
		}
	}
}
