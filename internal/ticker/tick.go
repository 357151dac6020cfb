// Package ticker runs a function at a fixed interval until a context ends:
// the loop of the workers that act on a clock (the key rotator, the
// retention clock ticker, the PostgreSQL writer lease's check).
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
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !f() {
			return
		}
	}
}
