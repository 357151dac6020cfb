package projections

import (
	"fmt"

	"github.com/gatehouse/gatehouse/events"
)

// reducer applies one event, already decoded to its payload, to the read
// models through tx. It must be deterministic: the same events in the same
// order give the same documents, on every store and after every rebuild.
type reducer func(tx Tx, e events.Event, p events.Payload) error

// reducers maps an event type to what it does to the read models. Each
// view file adds its own with on(); event types nobody projects (such as
// token.minted) simply have no entry.
var reducers = map[string]reducer{}

// on registers f for the event type of P, a pointer to a payload struct
// (what events.Decode returns): var _ = on(func(tx Tx, e events.Event, p *events.AppCreated) error {…}).
func on[T any, P interface {
	*T
	events.Payload
}](f func(tx Tx, e events.Event, p P) error) bool {
	t, _, ok := events.TypeOf(P(nil))
	if !ok {
		panic(fmt.Sprintf("projections: %T is not an event payload", P(nil)))
	}
	if _, dup := reducers[t]; dup {
		panic(fmt.Sprintf("projections: two reducers for %s", t))
	}
	reducers[t] = func(tx Tx, e events.Event, p events.Payload) error {
		typed, ok := p.(P)
		if !ok {
			return fmt.Errorf("projections: %s decoded as %T", t, p)
		}
		return f(tx, e, typed)
	}
	return true
}

// hasReducer reports whether events of type t change a read model.
func hasReducer(t string) bool {
	_, ok := reducers[t]
	return ok
}

// Apply applies one event to the read models through tx. Unknown event
// types (from a newer build) and types without a reducer change nothing.
// Before an event that moves the log's clock of its stream to a later
// second, it drops the documents that expire by then (see ExpireAt).
func Apply(tx Tx, e events.Event) error {
	return applyDecoded(tx, decodeEvent(e))
}

// applyDecoded is Apply of an event whose payload the reader decoded
// (decodeEvent): the same steps, in the same order.
func applyDecoded(tx Tx, e decoded) error {
	r, ok := reducers[e.Type]
	if !ok {
		return nil
	}
	if e.err != nil {
		return e.err
	}
	if err := tick(tx, e.Event); err != nil {
		return err
	}
	return r(tx, e.Event, e.payload)
}
