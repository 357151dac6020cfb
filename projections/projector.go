package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// ErrStopped: the projector of a stream stopped, closed or on an event it
// could not apply, so a wait for a sequence it has not reached would never
// end. The error wraps the cause.
var ErrStopped = errors.New("projections: projector stopped")

// Config configures a Projector.
type Config struct {
	// Log is followed from the store's checkpoint.
	Log events.Log
	// Store receives the events, applied in batches.
	Store Store
	// Logger reports retries and stops. Default slog.Default().
	Logger *slog.Logger
	// BatchSize is the most events applied in one Store.Update, but for a
	// packed message (events.Packer), which is never split: a batch that
	// reaches BatchSize inside one is taken to the message's end. Default
	// 512.
	BatchSize int
	// FlushDelay is how long a partial batch waits for more events while
	// the log says more are pending; a batch whose last event is the
	// stream's last is applied at once. Default 10ms.
	FlushDelay time.Duration
	// RetryMin and RetryMax bound the doubling backoff between attempts
	// of a failed Store.Update or Log.Follow. Defaults 50ms and 5s.
	RetryMin, RetryMax time.Duration
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.Log == nil || c.Store == nil {
		return errors.New("projections: a projector needs a Log and a Store")
	}
	if c.BatchSize < 0 || c.FlushDelay < 0 || c.RetryMin < 0 || c.RetryMax < c.RetryMin {
		return errors.New("projections: negative batch size or delays, or RetryMax below RetryMin")
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.BatchSize == 0 {
		c.BatchSize = 512
	}
	if c.FlushDelay == 0 {
		c.FlushDelay = 10 * time.Millisecond
	}
	if c.RetryMin == 0 {
		c.RetryMin = 50 * time.Millisecond
	}
	if c.RetryMax == 0 {
		c.RetryMax = max(5*time.Second, c.RetryMin)
	}
	return c
}

// Projector applies the log to a Store: one goroutine pair per stream of
// events.Streams reads the stream from the store's checkpoint and applies
// its events in batches, each batch one Store.Update that also moves the
// checkpoint. It lets callers wait until a sequence is applied
// (read-your-writes, DESIGN.md "Projections").
//
// A batch the store fails to commit is retried with backoff. An event a
// reducer cannot apply stops its stream's projector, after applying the
// events before it (before its message, when it is packed): the error
// shows in Health and in WaitFor, and the event is never skipped. Event
// types without a reducer are skipped.
//
// The checkpoint is a stream sequence, and the events of a packed message
// (events.Packer) share theirs: a batch always ends at a message's end, so
// a checkpoint never falls inside a message. Lags and sequences count
// messages, not events.
type Projector struct {
	cfg     Config
	streams map[events.Stream]*streamState
	views   *viewCache

	leading atomic.Bool   // a Shared store's writer lease is held
	applied atomic.Uint64 // events this projector has applied

	mu      sync.Mutex // guards started, closed and cancel
	started bool
	closed  bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// New returns a projector; Start sets it going.
func New(cfg Config) (*Projector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Projector{cfg: cfg.withDefaults(), streams: map[events.Stream]*streamState{}, views: newViewCache()}
	for _, s := range events.Streams {
		p.streams[s] = newStreamState(s)
	}
	return p, nil
}

// Start reads the store's checkpoint and follows every stream from it
// until Close. ctx bounds the reading of the checkpoint only; the
// goroutines live until Close.
func (p *Projector) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.closed {
		return errors.New("projections: projector already started or closed")
	}
	cp, err := p.cfg.Store.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("projections: read checkpoint: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.started, p.cancel = true, cancel
	for s, st := range p.streams {
		st.advance(cp[s])
	}
	if sh, ok := p.cfg.Store.(Shared); ok {
		p.wg.Go(func() { p.share(runCtx, sh) })
		return nil
	}
	for _, st := range p.streams {
		p.wg.Go(func() { p.run(runCtx, st) })
	}
	return nil
}

// Close stops every stream's goroutines and waits for them. A batch being
// applied is committed or not, never half. Close is idempotent; waits
// still pending return ErrStopped.
func (p *Projector) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if p.cancel != nil {
		p.cancel()
	}
	p.mu.Unlock()
	p.wg.Wait()
	for _, st := range p.streams {
		st.stop(errClosed)
	}
	return nil
}

var errClosed = errors.New("projections: projector closed")

// stream returns the state of s, or an error for a stream the log lacks.
func (p *Projector) stream(s events.Stream) (*streamState, error) {
	st, ok := p.streams[s]
	if !ok {
		return nil, fmt.Errorf("projections: unknown stream %q", s)
	}
	return st, nil
}

// Applied returns the last sequence of stream s the store has applied
// (as far as this projector knows), 0 for an unknown stream.
func (p *Projector) Applied(s events.Stream) uint64 {
	if st, err := p.stream(s); err == nil {
		return st.snapshot().applied
	}
	return 0
}

// EventsApplied is how many events this projector has applied since it
// started (the events of a packed message count one each).
func (p *Projector) EventsApplied() uint64 { return p.applied.Load() }

// WaitFor returns once the store has applied seq of stream s. It returns
// ctx's error if ctx ends first and an error wrapping ErrStopped if the
// stream's projector stopped (or was closed) before reaching seq.
func (p *Projector) WaitFor(ctx context.Context, s events.Stream, seq uint64) error {
	st, err := p.stream(s)
	if err != nil {
		return err
	}
	for {
		v := st.snapshot()
		switch {
		case v.applied >= seq:
			return nil
		case v.stopped:
			return fmt.Errorf("%w: %s at %d, waiting for %d: %w", ErrStopped, s, v.applied, seq, v.err)
		}
		select {
		case <-ctx.Done():
			if v = st.snapshot(); v.err != nil {
				return fmt.Errorf("projections: waiting for %s %d (applied %d; last failure: %v): %w", s, seq, v.applied, v.err, ctx.Err())
			}
			return fmt.Errorf("projections: waiting for %s %d (applied %d): %w", s, seq, v.applied, ctx.Err())
		case <-v.changed:
		}
	}
}

// Waits are WaitFor and CatchUp for request handlers (see Bounded).
type Waits struct {
	WaitFor func(ctx context.Context, s events.Stream, seq uint64) error
	CatchUp func(ctx context.Context) error
}

// Bounded returns WaitFor and CatchUp bounded by d when the caller's
// context has no deadline of its own: past d they fail with an error
// wrapping ErrUnavailable (the store or the writer is away), so that a
// request answers 503 instead of hanging. Workers (the bootstrap at
// start, the dispatcher) wait unbounded.
func (p *Projector) Bounded(d time.Duration) Waits {
	bound := func(ctx context.Context, wait func(context.Context) error) error {
		if _, ok := ctx.Deadline(); ok {
			return wait(ctx)
		}
		bctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		err := wait(bctx)
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w: the projections did not get there within %s: %w", ErrUnavailable, d, err)
		}
		return err
	}
	return Waits{
		WaitFor: func(ctx context.Context, s events.Stream, seq uint64) error {
			// Already applied (most waits, under load): no timer to make
			// and stop; WaitFor would return nil at once too.
			if st, err := p.stream(s); err == nil && st.snapshot().applied >= seq {
				return nil
			}
			return bound(ctx, func(ctx context.Context) error { return p.WaitFor(ctx, s, seq) })
		},
		CatchUp: func(ctx context.Context) error { return bound(ctx, p.CatchUp) },
	}
}

// CatchUp returns once the store has applied every event that was in the
// log when it was called: the wait of a read that misses on something
// another instance may just have written.
func (p *Projector) CatchUp(ctx context.Context) error {
	last := make(Checkpoint, len(p.streams))
	for s := range p.streams {
		seq, err := p.cfg.Log.LastSeq(ctx, s)
		if err != nil {
			return fmt.Errorf("projections: catch up: %w", err)
		}
		last[s] = seq
	}
	return p.WaitForAll(ctx, last)
}

// WaitForAll returns once the store has applied cp, every stream's
// sequence in it (WaitFor for each).
func (p *Projector) WaitForAll(ctx context.Context, cp Checkpoint) error {
	for s, seq := range cp {
		if err := p.WaitFor(ctx, s, seq); err != nil {
			return err
		}
	}
	return nil
}
