package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// streamState is what the projector of one stream has done, shared with
// waiters. Every change closes changed and replaces it, waking them all.
type streamState struct {
	name events.Stream
	// seen is the highest stream position the log has reported (an
	// event's Seq + Pending); written by the reader goroutine only.
	seen atomic.Uint64

	mu      sync.Mutex
	applied uint64
	err     error // why it stopped, or the failure being retried
	stopped bool
	changed chan struct{}
}

// streamView is a consistent copy of a streamState.
type streamView struct {
	applied uint64
	err     error
	stopped bool
	changed <-chan struct{}
}

func newStreamState(s events.Stream) *streamState {
	return &streamState{name: s, changed: make(chan struct{})}
}

func (st *streamState) snapshot() streamView {
	st.mu.Lock()
	defer st.mu.Unlock()
	return streamView{applied: st.applied, err: st.err, stopped: st.stopped, changed: st.changed}
}

// broadcast wakes every waiter. Callers hold mu.
func (st *streamState) broadcast() {
	close(st.changed)
	st.changed = make(chan struct{})
}

// advance records that the store has applied seq, which clears a retried
// failure.
func (st *streamState) advance(seq uint64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.applied = max(st.applied, seq)
	if !st.stopped {
		st.err = nil
	}
	st.broadcast()
}

// failing records a failure that is being retried.
func (st *streamState) failing(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.stopped {
		st.err = err
	}
}

// stop records that the stream's projector ended with err; the first
// stop's error stays.
func (st *streamState) stop(err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.stopped {
		st.stopped, st.err = true, err
		st.broadcast()
	}
}

// applyError is a reducer's failure on one event of a batch.
type applyError struct {
	index int
	event events.Event
	err   error
}

// Error names the event (stream, sequence, type, id) and the failure.
func (e *applyError) Error() string {
	return fmt.Sprintf("projections: apply %s #%d %s (%s): %v", e.event.Stream, e.event.Seq, e.event.Type, e.event.ID, e.err)
}

// Unwrap returns the reducer's error.
func (e *applyError) Unwrap() error { return e.err }

// run projects one stream until ctx ends or an event cannot be applied.
func (p *Projector) run(ctx context.Context, st *streamState) {
	err := p.follow(ctx, st)
	if ctx.Err() != nil {
		err = errClosed
	}
	st.stop(err)
}

// decoded is an event as the reader hands it to the applier: its payload
// decoded already (events.Decode, or why that failed) when a reducer
// applies its type, so that decoding, most of an event's cost at a cold
// start, is done on the reader's goroutine, beside the applier's work.
type decoded struct {
	events.Event
	payload events.Payload
	err     error
}

// decodeEvent decodes e's payload when a reducer applies its type.
func decodeEvent(e events.Event) decoded {
	r := decoded{Event: e}
	if hasReducer(e.Type) {
		r.payload, r.err = events.Decode(e)
	}
	return r
}

// follow runs the stream's reader and applier until ctx ends or the
// applier fails; the reader feeds the applier through a buffered channel
// so reading and decoding overlap with applying.
func (p *Projector) follow(ctx context.Context, st *streamState) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan decoded, 2*p.cfg.BatchSize)
	var wg sync.WaitGroup
	wg.Go(func() { p.read(ctx, st, ch) })
	err := p.apply(ctx, st, ch)
	cancel() // stops the reader, which may be waiting to hand on an event
	wg.Wait()
	return err
}

// read follows the stream from the applied checkpoint into ch, following
// again after a failure from the last event it handed on.
//
// The events of a packed message share its sequence (events.Packer), so
// the position of the last event handed on is its message's sequence and
// how many of that message's events were handed on. When a Follow fails
// inside a message, the next one reads the message again and skips what
// was handed on already.
func (p *Projector) read(ctx context.Context, st *streamState, ch chan<- decoded) {
	pos := readPos{seq: st.snapshot().applied, whole: true}
	for attempt := 0; ; attempt++ {
		after := pos.seq
		if !pos.whole {
			after-- // the message pos.seq again, from its first event
		}
		var cur uint64 // the message being delivered, and e's index in it
		idx := 0
		err := p.follow1(ctx, st.name, after, func(ctx context.Context, e events.Event) error {
			if e.Seq == cur {
				idx++
			} else {
				cur, idx = e.Seq, 0
			}
			if e.Seq < pos.seq || e.Seq == pos.seq && (pos.whole || idx < pos.n) {
				return nil // handed on already
			}
			st.seen.Store(max(st.seen.Load(), e.Seq+e.Pending))
			select {
			case ch <- decodeEvent(e):
				pos = readPos{seq: e.Seq, n: idx + 1, whole: !e.More}
				attempt = 0
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if ctx.Err() != nil {
			return
		}
		// Not recorded in st: Health asks the log itself whether it is
		// reachable, and no event may come to clear a recorded failure.
		p.cfg.Logger.Warn("projections: following the log failed; retrying", "stream", st.name, "after", pos.seq, "err", err)
		if !p.sleep(ctx, attempt) {
			return
		}
	}
}

// follow1 follows the log once: through FollowTypes when the log has it,
// so packed messages of types no reducer applies (token.minted) are not
// decoded only to be skipped by Apply.
func (p *Projector) follow1(ctx context.Context, s events.Stream, after uint64, h events.Handler) error {
	if tf, ok := p.cfg.Log.(events.TypeFollower); ok {
		return tf.FollowTypes(ctx, s, after, hasReducer, h)
	}
	return p.cfg.Log.Follow(ctx, s, after, h)
}

// readPos is where the reader of a stream is: it has handed on n events
// of the message at seq, all of them (or the message was read from the
// checkpoint) when whole is set.
type readPos struct {
	seq   uint64
	n     int
	whole bool
}

// apply applies the events of ch in batches until ctx ends or an event
// cannot be applied.
func (p *Projector) apply(ctx context.Context, st *streamState, ch <-chan decoded) error {
	batch := make([]decoded, 0, p.cfg.BatchSize)
	for {
		var ok bool
		if batch, ok = p.collect(ctx, ch, batch[:0]); !ok {
			return ctx.Err()
		}
		if err := p.flush(ctx, st, batch); err != nil {
			return err
		}
	}
}

// collect fills batch: it waits for one event, then takes what follows
// until the batch is full or the stream's end is reached, waiting up to
// FlushDelay for events the log said were pending. A batch never ends
// inside a packed message (on an event with More set): the checkpoint is
// a message's sequence, so the rest of the message would be skipped after
// a restart. Such a batch is taken to the message's end, beyond BatchSize
// if need be. It reports false when ctx ended.
func (p *Projector) collect(ctx context.Context, ch <-chan decoded, batch []decoded) ([]decoded, bool) {
	select {
	case e := <-ch:
		batch = append(batch, e)
	case <-ctx.Done():
		return batch, false
	}
	var timer <-chan time.Time
	for {
		last := batch[len(batch)-1]
		if !last.More && (len(batch) >= p.cfg.BatchSize || last.Pending == 0) {
			return batch, true
		}
		select {
		case e := <-ch:
			batch = append(batch, e)
			continue
		default:
		}
		if last.More {
			// The rest of the message is on its way, whatever the delay.
			select {
			case e := <-ch:
				batch = append(batch, e)
			case <-ctx.Done():
				return batch, false
			}
			continue
		}
		if timer == nil {
			timer = time.After(p.cfg.FlushDelay)
		}
		select {
		case e := <-ch:
			batch = append(batch, e)
		case <-timer:
			return batch, true
		case <-ctx.Done():
			return batch, false
		}
	}
}

// flush applies batch in one Update, retrying store failures with
// backoff until it commits or ctx ends. A reducer failure ends the stream
// (after the events before the failing one are applied).
func (p *Projector) flush(ctx context.Context, st *streamState, batch []decoded) error {
	for attempt := 0; ; attempt++ {
		batch = unapplied(batch, st.snapshot().applied)
		if len(batch) == 0 {
			return nil
		}
		err := p.update(ctx, st.name, batch)
		var ae *applyError
		switch {
		case err == nil:
			p.applied.Add(uint64(len(batch)))
			st.advance(batch[len(batch)-1].Seq)
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &ae) && !errors.Is(err, ErrUnavailable):
			return p.poisoned(ctx, st, batch, ae)
		case errors.Is(err, ErrStaleCheckpoint) && p.skipApplied(ctx, st, batch[0].Seq):
			continue // another projector committed it: drop what it did
		}
		p.cfg.Logger.Warn("projections: store update failed; retrying", "stream", st.name,
			"from", batch[0].Seq, "to", batch[len(batch)-1].Seq, "attempt", attempt+1, "err", err)
		st.failing(err)
		if !p.sleep(ctx, attempt) {
			return ctx.Err()
		}
	}
}

// unapplied drops the events of batch at or below applied. A checkpoint
// is always at a message's end, so this drops whole packed messages.
func unapplied(batch []decoded, applied uint64) []decoded {
	for len(batch) > 0 && batch[0].Seq <= applied {
		batch = batch[1:]
	}
	return batch
}

// update applies batch in one Store.Update at its last sequence. Events
// another projector of the store has applied meanwhile are skipped.
func (p *Projector) update(ctx context.Context, s events.Stream, batch []decoded) error {
	return p.cfg.Store.Update(ctx, s, batch[len(batch)-1].Seq, func(tx Tx) error {
		cp, err := p.cfg.Store.Checkpoint(ctx)
		if err != nil {
			return err
		}
		todo := unapplied(batch, cp[s])
		skipped := len(batch) - len(todo)
		var cached Tx = cachingTx{Tx: tx, views: p.views} // boxed once a batch, not once an event
		for i, e := range todo {
			if err := applyDecoded(cached, e); err != nil {
				return &applyError{index: skipped + i, event: e.Event, err: err}
			}
		}
		return nil
	})
}

// poisoned applies the events of batch before the one that failed, then
// reports the failure and returns it: the stream stops there. The events
// of a packed message before the failing one are not applied: the
// checkpoint is a message's sequence, so applying them would mark the
// failing event applied too.
func (p *Projector) poisoned(ctx context.Context, st *streamState, batch []decoded, ae *applyError) error {
	e := ae.event
	before := ae.index
	for before > 0 && batch[before-1].Seq == e.Seq {
		before--
	}
	if before > 0 {
		if err := p.flush(ctx, st, batch[:before]); err != nil {
			return err
		}
	}
	p.cfg.Logger.Error("projections: an event cannot be applied; this stream's projection stopped",
		"stream", e.Stream, "seq", e.Seq, "event_id", e.ID, "event_type", e.Type, "err", ae.err)
	return ae
}

// skipApplied catches up with a checkpoint another writer moved. It
// reports whether the store has applied the event first at least, so the
// caller has something to drop.
func (p *Projector) skipApplied(ctx context.Context, st *streamState, first uint64) bool {
	cp, err := p.cfg.Store.Checkpoint(ctx)
	if err != nil {
		return false
	}
	st.advance(cp[st.name])
	return cp[st.name] >= first
}

// sleep waits the backoff of attempt; false if ctx ended first.
func (p *Projector) sleep(ctx context.Context, attempt int) bool {
	d := p.cfg.RetryMin << min(attempt, 20)
	t := time.NewTimer(min(d, p.cfg.RetryMax))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
