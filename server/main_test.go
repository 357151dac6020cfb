package server_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestMain fails the package when a server's goroutine outlives its tests.
func TestMain(m *testing.M) { servertest.Main(m) }
