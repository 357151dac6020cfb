package events

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"time"
)

// kind is one registered event type: its name (the envelope's Type), its
// newest schema version (the envelope's Schema), how to make an empty
// payload to decode into, and the upcaster of its older versions.
type kind struct {
	name   string
	schema int
	new    func() Payload
	up     Upcaster
}

var (
	// registry holds the event types by name; kinds by payload type (the
	// struct and a pointer to it, as Decode returns it).
	registry = map[string]*kind{}
	kinds    = map[reflect.Type]*kind{}
)

// Upcaster turns the JSON of an older schema version of an event type into
// the newest one's. A type whose schema changes adds its upcaster with
// upcast beside its new version.
type Upcaster func(schema int, data json.RawMessage) (json.RawMessage, error)

// define records the payload struct T as event type name at schema
// version schema; called from the table in types.go (one line a type) so
// every type is known before main runs.
func define[T any](name string, schema int) bool {
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("events: %s registered twice", name))
	}
	k := &kind{name: name, schema: schema, new: func() Payload { return new(T) }}
	registry[name] = k
	kinds[reflect.TypeFor[T]()] = k
	kinds[reflect.TypeFor[*T]()] = k
	return true
}

// additive is the upcaster of a version that only added optional fields:
// the older JSON reads as it is, the new fields zero (and a zero field
// reads as its default, see secondsOr).
func additive(_ int, data json.RawMessage) (json.RawMessage, error) { return data, nil }

// positiveOr is v, or def when v is 0 or less: an optional count of a
// payload that older versions (and a zero setting) leave out.
func positiveOr[N int | int64](v, def N) N {
	if v <= 0 {
		return def
	}
	return v
}

// secondsOr is an optional duration in seconds of a payload, or def when
// it is 0 or less (see positiveOr).
func secondsOr(s int64, def time.Duration) time.Duration {
	if s <= 0 {
		return def
	}
	return time.Duration(s) * time.Second
}

// upcast records up as the upcaster of the defined event type name.
func upcast(name string, up Upcaster) bool {
	registry[name].up = up
	return true
}

// TypeOf returns the event type and schema version of payload p (a
// registered struct or a pointer to one); ok is false for anything else.
func TypeOf(p Payload) (name string, schema int, ok bool) {
	k, ok := kinds[reflect.TypeOf(p)]
	if !ok {
		return "", 0, false
	}
	return k.name, k.schema, true
}

// Types returns every registered event type, sorted.
func Types() []string {
	out := make([]string, 0, len(registry))
	for t := range registry {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
