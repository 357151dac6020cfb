// Package worker holds what the server's background workers (the
// webhook dispatcher, the retention clock ticker, the vault's refresher)
// share: the goroutines a worker starts, under a context of its own that
// outlives the one Start was given, and the Close that ends that context
// and waits for them.
package worker

import (
	"context"
	"sync"
)

// Group is a worker's goroutines. The zero Group is ready to use; Close
// without Start returns at once.
type Group struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start returns the context the group's goroutines run under: it has
// ctx's values but not its end, and ends at Close.
func (g *Group) Start(ctx context.Context) context.Context {
	ctx, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
	return ctx
}

// Go runs f in a goroutine that Close waits for.
func (g *Group) Go(f func()) { g.wg.Go(f) }

// Close ends the context Start returned and waits for every goroutine
// Go started. It always returns nil (the worker's Close signature).
func (g *Group) Close() error {
	if g.cancel != nil {
		g.cancel()
	}
	g.wg.Wait()
	return nil
}
