package projections_test

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// Replay workload: benchApps apps created, then updated until the log
// holds benchEvents events.
const (
	benchEvents = 100_000
	benchApps   = 1_000
	benchBatch  = 500
)

// benchLog appends the replay workload in atomic batches of benchBatch.
func benchLog(b *testing.B) logEnv {
	b.Helper()
	env := newLog(b)
	batch := make([]events.Event, 0, benchBatch)
	for i := range benchEvents {
		id := fmt.Sprintf("app_%d", i%benchApps)
		if i < benchApps {
			batch = append(batch, appCreated("t1", id, id, "cid_"+id, i))
		} else {
			batch = append(batch, appRenamed("t1", id, fmt.Sprintf("%s v%d", id, i/benchApps), i))
		}
		if len(batch) == benchBatch {
			appendAll(b, env.log, batch...)
			batch = batch[:0]
		}
	}
	return env
}

// BenchmarkReplayMemory times a rebuild: a fresh projector and memory
// store from sequence 0 until CatchUp returns.
func BenchmarkReplayMemory(b *testing.B) {
	env := benchLog(b)
	for b.Loop() {
		store := memory.New()
		p, err := projections.New(projections.Config{Log: env.log, Store: store, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
		if err := p.CatchUp(b.Context()); err != nil {
			b.Fatal(err)
		}
		if got := p.Applied(events.Control); got != benchEvents {
			b.Fatalf("applied %d of %d", got, benchEvents)
		}
		_ = p.Close()
	}
	b.ReportMetric(float64(benchEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
