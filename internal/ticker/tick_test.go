package ticker_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/ticker"
)

// TestEveryStopsWhenFSaysSo: f runs again and again until it returns
// false, and Every returns then.
func TestEveryStopsWhenFSaysSo(t *testing.T) {
	n := 0
	ticker.Every(context.Background(), time.Millisecond, func() bool { n++; return n < 3 })
	if n != 3 {
		t.Fatalf("f ran %d times, want 3", n)
	}
}

// TestEveryStopsWithContext: Every returns once ctx is done, without
// another call of f.
func TestEveryStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker.Every(ctx, time.Millisecond, func() bool { calls++; cancel(); return true })
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Every did not return after its context ended")
	}
	if calls != 1 {
		t.Fatalf("f ran %d times, want 1 (the call that cancelled)", calls)
	}
}
