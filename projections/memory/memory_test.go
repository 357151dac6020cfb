package memory_test

import (
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/projections/projectionstest"
)

func TestStore(t *testing.T) {
	projectionstest.Run(t, func(*testing.T) projections.Store { return memory.New() })
}

// TestNotFoundText: a miss is ErrNotFound and names what was looked for,
// as fmt.Errorf("%w: %s %q") did before it was made lazily.
func TestNotFoundText(t *testing.T) {
	_, err := memory.New().Get(t.Context(), "app", "app_1")
	if !errors.Is(err, projections.ErrNotFound) || err.Error() != projections.ErrNotFound.Error()+`: app "app_1"` {
		t.Fatalf("Get of nothing: %v", err)
	}
	_, err = memory.New().Lookup(t.Context(), "app", "client_id:x")
	if !errors.Is(err, projections.ErrNotFound) || err.Error() != projections.ErrNotFound.Error()+`: app "client_id:x"` {
		t.Fatalf("Lookup of nothing: %v", err)
	}
}
