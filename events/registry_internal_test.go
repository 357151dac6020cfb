package events

import (
	"errors"
	"testing"
	"time"
)

// TestNewRefusesUnregistered: a value that is no registered payload is
// refused, not appended under an empty type.
func TestNewRefusesUnregistered(t *testing.T) {
	for _, p := range []Payload{struct{ A int }{1}, "text", nil} {
		if _, err := New(Ref{Tenant: "acme", Type: "test", ID: "t_1"}, System, time.Unix(0, 0), p); !errors.Is(err, ErrInvalid) {
			t.Errorf("New(%#v) = %v, want ErrInvalid", p, err)
		}
	}
}
