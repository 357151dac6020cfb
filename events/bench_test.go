package events_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
)

// BenchmarkAppend measures appends of token mints (high-volume stream, no
// expectation) to the embedded server with SyncAlways in a temporary
// directory: every acknowledged append is synced to disk. Each sub-benchmark
// reports events/s and the append latency's median and 99th percentile;
// allocations are those of Append alone (events are made before the timer).
//
//	go test -run='^$' -bench=Append -benchtime=2s ./events/
func BenchmarkAppend(b *testing.B) {
	e := natstest.Embedded(b)
	b.Run("single", func(b *testing.B) {
		benchAppend(b, natstest.Open(b, natstest.Connect(b, e)), 1, 1)
	})
	b.Run("single-32-concurrent", func(b *testing.B) {
		benchAppend(b, natstest.Open(b, natstest.Connect(b, e)), 1, 32)
	})
	b.Run("batch-10", func(b *testing.B) {
		benchAppend(b, natstest.Open(b, natstest.Connect(b, e)), 10, 1)
	})
	b.Run("batch-100", func(b *testing.B) {
		benchAppend(b, natstest.Open(b, natstest.Connect(b, e)), 100, 1)
	})
	b.Run("group-commit-32-concurrent", func(b *testing.B) {
		// Hidden behind atomicOnly, the log cannot pack: atomic batches.
		benchGroupCommit(b, atomicOnly{natstest.Open(b, natstest.Connect(b, e))}, 32)
	})
	b.Run("group-commit-packed-32-concurrent", func(b *testing.B) {
		benchGroupCommit(b, natstest.Open(b, natstest.Connect(b, e)), 32)
	})
}

// atomicOnly is a Log without AppendPacked: a GroupCommitter writes its
// groups as atomic batches.
type atomicOnly struct{ events.Log }

// benchAppend runs b.N appends of size events each from workers goroutines.
func benchAppend(b *testing.B, l events.Log, size, workers int) {
	appends := make([]events.Append, b.N)
	for i := range appends {
		for range size {
			appends[i].Events = append(appends[i].Events, benchEvent(b))
		}
	}
	latencies := make([]time.Duration, b.N)
	run(b, workers, func(i int) error {
		start := time.Now()
		_, err := l.Append(b.Context(), appends[i])
		latencies[i] = time.Since(start)
		return err
	})
	report(b, size, latencies)
}

// benchGroupCommit runs b.N single-event appends through a GroupCommitter
// with its default settings from workers goroutines: concurrent callers
// share packed messages, or atomic batches when l cannot pack.
func benchGroupCommit(b *testing.B, l events.Log, workers int) {
	g := events.NewGroupCommitter(l, 0, 0)
	if err := g.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	evs := make([]events.Event, b.N)
	for i := range evs {
		evs[i] = benchEvent(b)
	}
	latencies := make([]time.Duration, b.N)
	run(b, workers, func(i int) error {
		start := time.Now()
		_, err := g.Append(b.Context(), evs[i])
		latencies[i] = time.Since(start)
		return err
	})
	report(b, 1, latencies)
}

// run calls op for 0..b.N-1 from workers goroutines, timing only that.
func run(b *testing.B, workers int, op func(i int) error) {
	b.ReportAllocs()
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	b.ResetTimer()
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < b.N; i = int(next.Add(1) - 1) {
				if err := op(i); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatalf("append: %v", *err)
	}
}

func report(b *testing.B, size int, latencies []time.Duration) {
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
}

var benchSeq atomic.Int64

func benchEvent(b *testing.B) events.Event {
	ref := events.Ref{Tenant: "acme", Type: events.AggToken, ID: fmt.Sprintf("tok_%d", benchSeq.Add(1))}
	return tokenEvent(b, ref)
}
