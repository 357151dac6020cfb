package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gatehouse/gatehouse/events"
)

// StreamHealth is how far the projection of one stream is.
type StreamHealth struct {
	Stream events.Stream
	// Applied is the last sequence the store has applied.
	Applied uint64
	// Last is the log's last sequence: asked of the log now, or the last
	// the log reported when it cannot be reached.
	Last uint64
	// Lag is Last - Applied (0 when the store is ahead).
	Lag uint64
	// Stopped is set when the stream's projector ended: closed, or on an
	// event it could not apply.
	Stopped bool
	// Err is why it stopped, else the store failure being retried, else
	// the log's failure to answer LastSeq now, else nil.
	Err error
}

// Health is the state of every stream's projection, for /readyz.
type Health struct {
	Streams []StreamHealth
}

// Health reports every stream's progress, asking the log for its last
// sequences.
func (p *Projector) Health(ctx context.Context) Health {
	var h Health
	for _, s := range events.Streams {
		h.Streams = append(h.Streams, p.streamHealth(ctx, p.streams[s]))
	}
	return h
}

func (p *Projector) streamHealth(ctx context.Context, st *streamState) StreamHealth {
	v := st.snapshot()
	sh := StreamHealth{Stream: st.name, Applied: v.applied, Stopped: v.stopped, Err: v.err}
	last, err := p.cfg.Log.LastSeq(ctx, st.name)
	if err != nil {
		last = st.seen.Load()
		sh.Err = firstErr(sh.Err, err)
	}
	sh.Last = last
	if last > v.applied {
		sh.Lag = last - v.applied
	}
	if last < v.applied && err == nil {
		sh.Err = firstErr(sh.Err, fmt.Errorf("projections: the store has applied %s up to %d but the log ends at %d: a store of another log?", st.name, v.applied, last))
	}
	return sh
}

// firstErr returns the first non-nil error.
func firstErr(errs ...error) error {
	i := slices.IndexFunc(errs, func(e error) bool { return e != nil })
	if i < 0 {
		return nil
	}
	return errs[i]
}

// Ready returns nil when every stream runs without error within maxLag
// events of the log, else an error saying which is not.
func (h Health) Ready(maxLag uint64) error {
	var errs []error
	for _, s := range h.Streams {
		switch {
		case s.Stopped:
			errs = append(errs, fmt.Errorf("projection of %s stopped: %w", s.Stream, s.Err))
		case s.Err != nil:
			errs = append(errs, fmt.Errorf("projection of %s: %w", s.Stream, s.Err))
		case s.Lag > maxLag:
			errs = append(errs, fmt.Errorf("projection of %s lags %d events behind the log", s.Stream, s.Lag))
		}
	}
	return errors.Join(errs...)
}
