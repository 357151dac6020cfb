package events

import (
	"context"
	"errors"
)

// Stream is one of the log's streams.
type Stream string

const (
	// Control holds the control plane: tenants, apps, secrets, scope
	// requests and decisions, catalogs, users, keys, webhook subscriptions.
	// Retained forever.
	Control Stream = "control"
	// HighVolume holds token mints and revocations, published domain
	// events and delivery attempts. Retained by age.
	HighVolume Stream = "events"
)

// Streams lists every stream of the log, in the order projectors follow them.
var Streams = []Stream{Control, HighVolume}

// Errors of the Log port. Callers test them with errors.Is.
var (
	// ErrVersionConflict: an Expect did not match the aggregate's current
	// version. Nothing of the append was written.
	ErrVersionConflict = errors.New("events: version conflict")
	// ErrNotFound: the aggregate has no events.
	ErrNotFound = errors.New("events: not found")
	// ErrInvalid: the append or its events are malformed (bad reference,
	// mixed streams, empty batch). Nothing was written.
	ErrInvalid = errors.New("events: invalid")
	// ErrUnknownType: an event type this build does not know.
	ErrUnknownType = errors.New("events: unknown event type")
	// ErrUnavailable: the log cannot be reached now. The append may or may
	// not have been written; retrying with the same DedupeID is safe.
	ErrUnavailable = errors.New("events: log unavailable")
)

// Expect states the version an aggregate must be at for an append to
// succeed: Seq is the stream sequence of its last event, 0 for an aggregate
// that must not exist yet.
type Expect struct {
	Ref Ref
	Seq uint64
}

// Append is one atomic write: every event or none. All events must belong
// to aggregates of the same stream.
type Append struct {
	Events []Event
	// Expect lists the versions the named aggregates must be at. An
	// aggregate that is not listed is appended to whatever its version.
	// Each must name an aggregate the append writes (ErrInvalid otherwise).
	Expect []Expect
	// DedupeID, when set, makes the append idempotent within the stream's
	// duplicate window: a second append with the same DedupeID writes
	// nothing and reports the first one's position with Duplicate set,
	// even when its expectations no longer hold (the first append moved
	// the versions on), so a retried command is answered, not refused.
	DedupeID string
}

// Result is the position of an append.
type Result struct {
	Stream Stream
	// Seqs are the stream sequences of the appended events, in order.
	Seqs []uint64
	// Duplicate is set when DedupeID matched an earlier append; Seqs then
	// holds the sequences of the earlier append, or, when they cannot be
	// found, one sequence at least as high as its last (so that waiting
	// for Last() to be applied still reads the earlier append's writes).
	Duplicate bool
}

// Last returns the sequence of the last event appended.
func (r Result) Last() uint64 {
	if len(r.Seqs) == 0 {
		return 0
	}
	return r.Seqs[len(r.Seqs)-1]
}

// Handler receives the events of a Follow in stream order. An error stops
// the Follow and is returned by it.
type Handler func(ctx context.Context, e Event) error

// Log is the append-only event log.
type Log interface {
	// Append writes a.Events atomically after checking a.Expect. It returns
	// ErrVersionConflict when an expectation fails, ErrInvalid for a
	// malformed append and ErrUnavailable when the log cannot be reached.
	// A nil error means the events are durable.
	Append(ctx context.Context, a Append) (Result, error)
	// Read returns every event of one aggregate, oldest first. It returns
	// ErrNotFound when the aggregate has none.
	Read(ctx context.Context, ref Ref) ([]Event, error)
	// Follow calls h for each event of stream s with a sequence > after, in
	// order, then for each new event as it is appended, until ctx ends or
	// h fails. It returns ctx.Err() or h's error.
	Follow(ctx context.Context, s Stream, after uint64, h Handler) error
	// LastSeq returns the sequence of the last event in stream s (0 when
	// empty).
	LastSeq(ctx context.Context, s Stream) (uint64, error)
}

// StreamOf returns the stream an aggregate type's events are appended to.
func StreamOf(aggregateType string) Stream {
	if highVolumeAggregates[aggregateType] {
		return HighVolume
	}
	return Control
}

// Aggregate types.
const (
	AggTenant       = "tenant"
	AggApp          = "app"
	AggScope        = "scope"
	AggEventType    = "eventtype"
	AggKey          = "key"
	AggUser         = "user"
	AggWebhook      = "webhook"
	AggSystem       = "system"
	AggToken        = "token"
	AggPublished    = "published"
	AggDelivery     = "delivery"
	AggIdempotency  = "idem"
	AggAuthzSession = "authz"
)

var highVolumeAggregates = map[string]bool{
	AggToken:        true,
	AggPublished:    true,
	AggDelivery:     true,
	AggAuthzSession: true,
	AggIdempotency:  true,
}
