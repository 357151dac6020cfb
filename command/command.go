package command

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/events"
)

// DefaultAttempts is how often Run decides before it gives up on a
// command that keeps losing optimistic-concurrency races.
const DefaultAttempts = 5

// Deps is what Run needs.
type Deps struct {
	Log events.Log
	// WaitFor returns once the projections have applied seq of stream s.
	// Its bound is the bound of Run's waits: request handlers pass
	// projections.Projector.Bounded(d).WaitFor (past d an error wrapping
	// projections.ErrUnavailable, a 503), workers the unbounded
	// Projector.WaitFor.
	WaitFor func(ctx context.Context, s events.Stream, seq uint64) error
	// Attempts bounds the decisions of one Run; 0: DefaultAttempts. One
	// makes a single try whose conflict is the caller's answer (a claim
	// that another instance won, a jti used before).
	Attempts int
}

// Decision is what one attempt of a command decided.
type Decision struct {
	// Append is the write: its events, atomically (one JetStream batch
	// when there are several); Expect, the versions the aggregates must
	// be at (Seq 0: the aggregate must have no event yet, as a new app,
	// a first quota.counted or a client_assertion.used); DedupeID, the
	// Nats-Msg-Id that makes a retried append (an Idempotency-Key, a
	// command id) write nothing the second time. No events: there is
	// nothing to change, and Run returns at once.
	events.Append
	// NoWait skips the read-your-writes wait: the caller acts on the
	// append itself (a delivery claimed here) and reads nothing back.
	NoWait bool
}

// Decide is one attempt of a command: it reads what it needs (attempt 0
// first, then again after each lost race, with the projections caught up
// with the log) and returns what to append. An error ends Run with it.
type Decide func(ctx context.Context, attempt int) (Decision, error)

// ErrContended is wrapped by Run's error when every attempt lost its race
// (the API's 409 conflict). The error also wraps
// events.ErrVersionConflict.
var ErrContended = errors.New("command: the state changed concurrently on every attempt")

// contended is Run's error after its last lost race.
type contended struct {
	attempts int
	err      error
}

func (e *contended) Error() string {
	return fmt.Sprintf("%v (%d attempts): %v", ErrContended, e.attempts, e.err)
}

// Is makes the error match ErrContended; Unwrap, the conflict of the log.
func (e *contended) Is(target error) bool { return target == ErrContended }
func (e *contended) Unwrap() error        { return e.err }

// Run runs a command: decide, append, and on events.ErrVersionConflict
// wait until the projections have applied the stream up to its last
// sequence and decide again, at most d.Attempts times. After a durable
// append it waits until the projections have applied it (unless the
// decision says NoWait) and returns its position; an error of that wait
// comes with the position (the append is durable all the same). Errors:
// decide's, as they are; ErrContended when every attempt lost; the log's
// (events.ErrUnavailable, …) and the waits' (projections.ErrUnavailable
// past the bound of d.WaitFor, ctx's error).
func Run(ctx context.Context, d Deps, decide Decide) (events.Result, error) {
	attempts := d.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	for attempt := 0; ; attempt++ {
		dec, err := decide(ctx, attempt)
		if err != nil || len(dec.Events) == 0 {
			return events.Result{}, err
		}
		res, err := d.Log.Append(ctx, dec.Append)
		switch {
		case errors.Is(err, events.ErrVersionConflict):
			if attempt+1 >= attempts {
				return events.Result{}, &contended{attempts: attempts, err: err}
			}
			if err := d.catchUp(ctx, events.StreamOf(dec.Events[0].Aggregate.Type)); err != nil {
				return events.Result{}, err
			}
		case err != nil:
			return events.Result{}, err
		case dec.NoWait:
			return res, nil
		default:
			return res, d.WaitFor(ctx, res.Stream, res.Last())
		}
	}
}

// catchUp waits until the projections have applied stream s up to its
// last sequence read now: the versions that beat the lost append.
func (d Deps) catchUp(ctx context.Context, s events.Stream) error {
	last, err := d.Log.LastSeq(ctx, s)
	if err != nil {
		return err
	}
	return d.WaitFor(ctx, s, last)
}

// StaleError is a decision's refusal when If-Match named another version
// than the current one (the API's 412 precondition_failed).
type StaleError struct {
	// Current is the version the resource is at.
	Current uint64
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("the resource changed: it is now at version %d", e.Current)
}

// Match applies If-Match: match is the version the caller expects (0:
// any), current the version the decision reads. It returns a *StaleError
// when they differ.
func Match(match, current uint64) error {
	if match != 0 && match != current {
		return &StaleError{Current: current}
	}
	return nil
}
