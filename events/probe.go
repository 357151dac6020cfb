package events

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// probeSubject is where Writable publishes, under each stream's prefix.
// Nothing is ever stored there: every probe expects a sequence the subject
// can never have.
const probeSubject = "_probe.writable"

// Writable reports whether every stream takes writes now: it publishes to
// each a message that expects the last sequence of an unused subject to
// be 2^64-1. A stream that takes writes refuses it with "wrong last
// sequence", having checked all that an append needs (the connection,
// publish permission, a stream leader, not sealed) and stored nothing;
// any other answer, or none, is the error returned (wrapping
// ErrUnavailable). Readiness needs this, not a read: a log can answer
// reads while it refuses writes.
func (l *JetStream) Writable(ctx context.Context) error {
	for _, s := range Streams {
		if err := l.probe(ctx, s); err != nil {
			return fmt.Errorf("%w: stream %s does not take writes: %v", ErrUnavailable, l.names[s], err)
		}
	}
	return nil
}

func (l *JetStream) probe(ctx context.Context, s Stream) error {
	ctx, cancel := l.ctx(ctx)
	defer cancel()
	msg := &nats.Msg{Subject: l.subject[s] + probeSubject}
	_, err := l.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(math.MaxUint64),
		jetstream.WithExpectStream(l.names[s]))
	var api *jetstream.APIError
	if errors.As(err, &api) && (api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return nil
	}
	if err == nil {
		return errors.New("the probe was stored") // cannot happen: its subject is never written
	}
	return err
}
