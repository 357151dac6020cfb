package cputime_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/cputime"
)

// TestProcessCountsWork: spinning adds CPU time, 20 ms of it well within
// 10 s of wall time however loaded the machine, and the figure never goes
// back.
func TestProcessCountsWork(t *testing.T) {
	start, err := cputime.Process()
	if err != nil {
		t.Fatal(err)
	}
	last := start
	for deadline := time.Now().Add(10 * time.Second); last-start < 20*time.Millisecond; {
		if time.Now().After(deadline) {
			t.Fatalf("10 s of spinning added %v of CPU time, want 20 ms", last-start)
		}
		for i := 0; i < 1e5; i++ {
			_ = time.Now()
		}
		now, err := cputime.Process()
		if err != nil {
			t.Fatal(err)
		}
		if now < last {
			t.Fatalf("CPU time went back from %v to %v", last, now)
		}
		last = now
	}
}
