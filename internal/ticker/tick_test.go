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

// TestScheduleRoundsAtOnceThenOnWaitOrWake: the first round runs at
// once; a round whose wait is an hour is followed by the next only at a
// wake; a short wait passes without one; Schedule returns once ctx is
// done, after the round that ended it, without another.
func TestScheduleRoundsAtOnceThenOnWaitOrWake(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wake := make(chan struct{}, 1)
	rounds := make(chan int)
	waits := []time.Duration{time.Hour, time.Millisecond, time.Hour, 0}
	n := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker.Schedule(ctx, wake, func() time.Duration {
			n++
			if n == len(waits) {
				cancel()
			}
			rounds <- n
			return waits[n-1]
		})
	}()
	next := func(want int) { t.Helper(); nextRound(t, rounds, want) }
	next(1) // at once, though the timer of an hour would not fire
	select {
	case got := <-rounds:
		t.Fatalf("round %d came before the wake, an hour's wait", got)
	case <-time.After(50 * time.Millisecond):
	}
	wake <- struct{}{}
	next(2) // the wake
	next(3) // its wait of a millisecond passed
	wake <- struct{}{}
	next(4) // the wake again; this round ends ctx
	select {
	case <-done:
	case got := <-rounds:
		t.Fatalf("round %d after ctx ended", got)
	case <-time.After(10 * time.Second):
		t.Fatal("Schedule did not return after its context ended")
	}
}

// TestWakeKicksCountOnce: kicks never block, kicks that come during a
// round make one more round, not one each, and a kick after that makes
// another; the zero Wake is ready to use.
func TestWakeKicksCountOnce(t *testing.T) {
	var w ticker.Wake
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rounds, release := make(chan int), make(chan struct{})
	n := 0
	go ticker.Schedule(ctx, w.C(), func() time.Duration {
		n++
		rounds <- n
		<-release
		return time.Hour
	})
	next := func(want int) { t.Helper(); nextRound(t, rounds, want) }
	next(1) // at once; it waits for release
	for range 3 {
		w.Kick() // none blocks: the schedule is busy with round 1
	}
	release <- struct{}{}
	next(2) // one round for the three kicks
	release <- struct{}{}
	select {
	case got := <-rounds:
		t.Fatalf("round %d: the three kicks made more than one round", got)
	case <-time.After(50 * time.Millisecond):
	}
	w.Kick()
	next(3)
	release <- struct{}{}
}

// nextRound waits (10 s at most) for the next round's number from rounds,
// which must be want.
func nextRound(t *testing.T, rounds <-chan int, want int) {
	t.Helper()
	select {
	case got := <-rounds:
		if got != want {
			t.Fatalf("round %d, want %d", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("round %d did not come", want)
	}
}
