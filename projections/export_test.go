package projections

import "github.com/gatehouse/gatehouse/events"

// NewCachingApply returns Apply through one view cache kept across calls,
// as the projector applies events (benchmarks of the reducers).
func NewCachingApply() func(Tx, events.Event) error {
	views := newViewCache()
	return func(tx Tx, e events.Event) error { return Apply(cachingTx{Tx: tx, views: views}, e) }
}
