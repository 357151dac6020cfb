package projections_test

import (
	"log/slog"
	"testing"

	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/projections/projectionstest"
)

// BenchmarkReplayMemory times a rebuild into memory of the worst case
// (projectionstest.AppendRewrites: every event rewrites a document): a
// fresh projector and store from sequence 0 until CatchUp returns.
func BenchmarkReplayMemory(b *testing.B) {
	env := newLog(b)
	projectionstest.AppendRewrites(b, env.log)
	benchReplay(b, env)
}

// BenchmarkReplayMemoryMints times a rebuild into memory of the typical
// log of a busy server (projectionstest.AppendMints: apps, then token
// mints packed as the group committer writes them).
func BenchmarkReplayMemoryMints(b *testing.B) {
	env := newLog(b)
	projectionstest.AppendMints(b, env.log)
	benchReplay(b, env)
}

// BenchmarkReplayMemoryApps times a rebuild into memory of issue 7's cold
// start (projectionstest.AppendApps: apps as `gatehouse bench seed` writes
// them, every event a creation).
func BenchmarkReplayMemoryApps(b *testing.B) {
	env := newLog(b)
	projectionstest.AppendApps(b, env.log)
	benchReplay(b, env)
}

func benchReplay(b *testing.B, env logEnv) {
	cpu0 := cpuTime()
	for b.Loop() {
		p, err := projections.New(projections.Config{Log: env.log, Store: memory.New(), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
		if err := p.CatchUp(b.Context()); err != nil {
			b.Fatal(err)
		}
		if got := p.EventsApplied(); got != projectionstest.WorkloadEvents {
			b.Fatalf("applied %d events of %d", got, projectionstest.WorkloadEvents)
		}
		_ = p.Close()
	}
	b.ReportMetric(float64(projectionstest.WorkloadEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	// The process's CPU (the embedded NATS server's included) per replay.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}
