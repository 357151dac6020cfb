package memory_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/projections/projectionstest"
)

func TestStore(t *testing.T) {
	projectionstest.Run(t, func(*testing.T) projections.Store { return memory.New() })
}
