package events

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// methodStyle names itself the way payloads did before the table.
type methodStyle struct {
	N int `json:"n"`
}

func (methodStyle) EventType() string  { return "test.method_style" }
func (methodStyle) SchemaVersion() int { return 3 }

// TestRegisterMethodStyle: a payload type with EventType and
// SchemaVersion methods still registers, and New and Decode see the name
// and version they return.
func TestRegisterMethodStyle(t *testing.T) {
	register[methodStyle]()
	defer func() {
		delete(registry, "test.method_style")
		delete(kinds, reflect.TypeFor[methodStyle]())
		delete(kinds, reflect.TypeFor[*methodStyle]())
	}()
	e, err := New(Ref{Tenant: "acme", Type: "test", ID: "t_1"}, System, time.Unix(0, 0), methodStyle{N: 7})
	if err != nil {
		t.Fatal(err)
	}
	if e.Type != "test.method_style" || e.Schema != 3 {
		t.Fatalf("envelope %s v%d, want test.method_style v3", e.Type, e.Schema)
	}
	p, err := Decode(e)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := p.(*methodStyle); !ok || got.N != 7 {
		t.Fatalf("Decode = %#v", p)
	}
	if name, schema, ok := TypeOf(p); !ok || name != "test.method_style" || schema != 3 {
		t.Fatalf("TypeOf(decoded) = %s v%d %v", name, schema, ok)
	}
}

// TestNewRefusesUnregistered: a value that is no registered payload is
// refused, not appended under an empty type.
func TestNewRefusesUnregistered(t *testing.T) {
	for _, p := range []Payload{struct{ A int }{1}, "text", nil} {
		if _, err := New(Ref{Tenant: "acme", Type: "test", ID: "t_1"}, System, time.Unix(0, 0), p); !errors.Is(err, ErrInvalid) {
			t.Errorf("New(%#v) = %v, want ErrInvalid", p, err)
		}
	}
}
