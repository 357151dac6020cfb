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
	// ErrNotFound when the aggregate has none. Events written with
	// Packer.AppendPacked are not part of an aggregate's history and are
	// not returned; nothing else is left out.
	Read(ctx context.Context, ref Ref) ([]Event, error)
	// Follow calls h for each event of stream s with a sequence > after, in
	// order, then for each new event as it is appended, until ctx ends or
	// h fails. It returns ctx.Err() or h's error. The events of a packed
	// message (see Packer) come one by one, all at the message's sequence,
	// More set on all but the last: a Follow after that sequence starts
	// after the whole message.
	Follow(ctx context.Context, s Stream, after uint64, h Handler) error
	// LastSeq returns the sequence of the last event in stream s (0 when
	// empty): that of the last message, shared by all its events when it
	// is packed.
	LastSeq(ctx context.Context, s Stream) (uint64, error)
}

// TypeFollower is implemented by logs that can spare a follower the
// decoding of packed messages holding only events it does not want (the
// projector and token.minted, which no read model keeps).
type TypeFollower interface {
	// FollowTypes is Follow, except that the events of a packed message
	// whose types want accepts none of may be handed on undecoded: with
	// their Stream, Seq, More and Pending as Follow gives them and Type
	// one of the message's types, but no ID, Aggregate, Actor, Time or
	// Data. Every other event comes decoded, as Follow gives it.
	FollowTypes(ctx context.Context, s Stream, after uint64, want func(eventType string) bool, h Handler) error
}

// Scanner is implemented by logs that can read one tenant's events of a
// stream in order without reading every other tenant's: the audit feed
// (API.md "Event feed").
type Scanner interface {
	// Scan returns tenant's events of stream s with a sequence > after,
	// oldest first: at most limit of them, except that the tenant's events
	// of one packed message are never split (they share a sequence). It
	// looks at no more than maxScan messages (packed messages of other
	// tenants count), so a sparse tenant's page may be short. next is the
	// sequence to pass as after for the following page: that of the last
	// message looked at, or after itself when there was nothing new. It
	// returns ErrInvalid for an unknown stream, a tenant that is not one
	// subject token, or a limit or maxScan below 1, and ErrUnavailable when
	// the log cannot be reached.
	Scan(ctx context.Context, s Stream, tenant string, after uint64, limit, maxScan int) (evs []Event, next uint64, err error)
}

// Packer is implemented by logs that can write many independent events of
// the high-volume stream in one message: one write, one acknowledgement and
// one durable sync (fsync on a single node) for all of them. It is how group
// commit reaches its throughput (DESIGN.md "The log"; GroupCommitter uses it
// when its log has it).
//
// A packed event is not an appended one in three ways:
//
//   - It shares its Seq with the other events of its message: Result.Seqs
//     repeats the message's sequence, and Follow delivers the message's
//     events in order, each with that Seq and Pending, with More set on
//     every one but the last.
//   - It is not on its aggregate's subject, so it is not part of the
//     aggregate's history: Read does not return it, and it neither moves
//     nor is checked by an Expect on its aggregate.
//   - It carries no expectation and no DedupeID.
//
// That is what token.minted, token.revoked and similar events need: nobody
// decides on them per aggregate, only Follow (the projections) reads them.
// Published events (without a dedupe id) are packed too, but apart from the
// others, so that a Queue (the webhook dispatcher) selects them by subject.
// Events whose aggregate history matters must be appended with Append.
type Packer interface {
	// AppendPacked writes evs, in order, in as few messages as the
	// message size limit allows; each message is written whole or not at
	// all. Every event must be of the HighVolume stream (ErrInvalid
	// otherwise, and for an empty or malformed list; nothing is written
	// then). A nil error means every event is durable. On an error after
	// some messages were written, Result.Seqs holds the sequences of the
	// events written so far, a prefix of evs; the other events may or may
	// not have been written (as ErrUnavailable says).
	AppendPacked(ctx context.Context, evs []Event) (Result, error)
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
	AggAssertion    = "assertion"
)

var highVolumeAggregates = map[string]bool{
	AggToken:        true,
	AggPublished:    true,
	AggDelivery:     true,
	AggAuthzSession: true,
	AggIdempotency:  true,
	AggAssertion:    true,
	AggSession:      true,
	AggPAR:          true,
	// the proxy's per-minute use counters (types_proxy.go)
	AggCredentialUsage: true,
	// a credential's refresh state (types_credentials_refresh.go)
	AggCredentialRefresh: true,
}

// LastSeq is the sequence of the last event of the aggregate ref in log,
// its version (0: none, or none left): what an append that must find it
// unchanged expects.
func LastSeq(ctx context.Context, log Log, ref Ref) (uint64, error) {
	evs, err := log.Read(ctx, ref)
	if errors.Is(err, ErrNotFound) || err == nil && len(evs) == 0 {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return evs[len(evs)-1].Seq, nil
}
