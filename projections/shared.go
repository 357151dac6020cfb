package projections

import (
	"context"
	"sync"
	"time"
)

// Shared is a Store that several processes (Gatehouse instances) read and
// write at once, such as PostgreSQL. The projector of each process then
// either leads or follows (DESIGN.md "Scale-out"):
//
//   - the leader holds the store's writer lease and applies the log, as a
//     projector of an unshared store does;
//   - a follower applies nothing: it learns the store's checkpoint (Watch,
//     and a poll as a fallback) so that its callers' waits (WaitFor,
//     CatchUp) end once the leader has applied what they wait for.
//
// A follower takes the lease over when the leader dies. Correctness does
// not rest on the lease: Updates are serialized by the store and skip what
// another writer applied, so two leaders for a moment (a lease lost but
// not yet noticed) write each event once; the lease only keeps the other
// instances from reading the log and contending for nothing.
type Shared interface {
	// Lead blocks until this process holds the writer lease or ctx ends.
	// The lease lasts until the returned context ends: when release is
	// called, ctx ends, or the lease is lost (the store's session
	// ended).
	Lead(ctx context.Context) (lease context.Context, release func(), err error)
	// Watch calls changed, until ctx ends, whenever another process may
	// have moved the checkpoint. It may miss a change while it
	// reconnects; followers also poll.
	Watch(ctx context.Context, changed func()) error
}

// followPoll is how often a follower reads the checkpoint when no
// notification came.
const followPoll = time.Second

// share runs the projector of a Shared store until ctx ends: follow the
// store's checkpoint while another process leads, project the log while
// this one does.
func (p *Projector) share(ctx context.Context, sh Shared) {
	for attempt := 0; ctx.Err() == nil; {
		wctx, stopWatch := context.WithCancel(ctx)
		var watching sync.WaitGroup
		watching.Go(func() { p.watch(wctx, sh) })
		lease, release, err := sh.Lead(ctx)
		stopWatch()
		watching.Wait()
		if err != nil {
			if ctx.Err() == nil {
				p.cfg.Logger.Warn("projections: cannot campaign for the writer lease; retrying", "err", err)
				if !p.sleep(ctx, attempt) {
					return
				}
				attempt++
			}
			continue
		}
		attempt = 0
		p.lead(ctx, lease)
		release()
	}
}

// lead projects every stream that has not stopped until the lease ends.
// A stream stopped on an event it cannot apply stays stopped.
func (p *Projector) lead(ctx, lease context.Context) {
	p.leading.Store(true)
	defer p.leading.Store(false)
	p.cfg.Logger.Info("projections: this instance writes the projections")
	p.refresh(lease) // where the previous leader left them
	var wg sync.WaitGroup
	for _, st := range p.streams {
		if st.snapshot().stopped {
			continue
		}
		wg.Go(func() {
			err := p.follow(lease, st)
			if lease.Err() == nil {
				st.stop(err) // an event it cannot apply
			}
		})
	}
	wg.Wait()
	if ctx.Err() == nil {
		p.cfg.Logger.Warn("projections: lost the writer lease; following the store")
	}
}

// watch advances every stream to the store's checkpoint whenever Watch
// says it may have moved, and every followPoll, until ctx ends.
func (p *Projector) watch(ctx context.Context, sh Shared) {
	changed := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		for ctx.Err() == nil {
			err := sh.Watch(ctx, func() {
				select {
				case changed <- struct{}{}:
				default:
				}
			})
			if ctx.Err() == nil {
				p.cfg.Logger.Warn("projections: watching the store failed; polling until it is back", "err", err)
				if !p.sleep(ctx, 3) {
					return
				}
			}
		}
	})
	tick := time.NewTicker(followPoll)
	defer tick.Stop()
	for {
		p.refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick.C:
		}
	}
}

// refresh advances every stream to the store's checkpoint.
func (p *Projector) refresh(ctx context.Context) {
	cp, err := p.cfg.Store.Checkpoint(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.cfg.Logger.Warn("projections: reading the store's checkpoint failed", "err", err)
		}
		return
	}
	for s, st := range p.streams {
		st.advance(cp[s])
	}
}

// Leading reports whether this projector writes the store now: always
// for a store only this process writes, for a Shared store while it holds
// the writer lease.
func (p *Projector) Leading() bool {
	if _, ok := p.cfg.Store.(Shared); !ok {
		return true
	}
	return p.leading.Load()
}
