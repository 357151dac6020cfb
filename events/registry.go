package events

import (
	"encoding/json"
	"fmt"
	"sort"
)

type entry struct {
	new func() Payload
}

var (
	registry  = map[string]entry{}
	upcasters = map[string]Upcaster{}
)

// Upcaster turns the JSON of an older schema version of an event type into
// the newest one's. A type whose schema changes adds its upcaster to
// upcasters beside its new version.
type Upcaster func(schema int, data json.RawMessage) (json.RawMessage, error)

// register records a payload type; called from the var blocks of the type
// files so every type is known before main runs.
func register[T any, P interface {
	*T
	Payload
}]() bool {
	var p P = new(T)
	t := p.EventType()
	if _, dup := registry[t]; dup {
		panic(fmt.Sprintf("events: %s registered twice", t))
	}
	registry[t] = entry{new: func() Payload { return P(new(T)) }}
	return true
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
