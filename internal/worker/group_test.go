package worker

import (
	"context"
	"sync/atomic"
	"testing"
)

func TestCloseWithoutStart(t *testing.T) {
	var g Group
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCloseEndsContextAndWaits(t *testing.T) {
	var g Group
	parent, cancel := context.WithCancel(context.WithValue(t.Context(), ctxKey{}, "v"))
	ctx := g.Start(parent)
	cancel() // the group's context outlives the one Start was given
	if ctx.Err() != nil {
		t.Fatal("the group's context ended with Start's")
	}
	if ctx.Value(ctxKey{}) != "v" {
		t.Fatal("the group's context lost the values of Start's")
	}
	var done atomic.Int32
	for range 3 {
		g.Go(func() {
			<-ctx.Done()
			done.Add(1)
		})
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if n := done.Load(); n != 3 {
		t.Fatalf("Close returned with %d of 3 goroutines done", n)
	}
}

type ctxKey struct{}
