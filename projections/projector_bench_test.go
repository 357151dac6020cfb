package projections_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

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

// benchMintLog appends the typical log of a busy server: benchApps apps
// (the control stream), then token mints until the log holds benchEvents
// events, packed benchBatch to a message as the group committer writes
// them (the high-volume stream). Mints change no read model, so this is
// the cost of reading and decoding the log.
func benchMintLog(b *testing.B) logEnv {
	b.Helper()
	env := newLog(b)
	var apps []events.Event
	for i := range benchApps {
		id := fmt.Sprintf("app_%d", i)
		apps = append(apps, appCreated("t1", id, id, "cid_"+id, i))
	}
	appendAll(b, env.log, apps...)
	batch := make([]events.Event, 0, benchBatch)
	exp := t0.Add(time.Hour)
	for i := benchApps; i < benchEvents; i++ {
		id := fmt.Sprintf("app_%d", i%benchApps)
		batch = append(batch, ev("t1", events.AggToken, id, i, &events.TokenMinted{
			JTI: fmt.Sprintf("jti_%d", i), AppID: id, ClientID: "cid_" + id, Subject: "cid_" + id,
			GrantType: "client_credentials", Scopes: []string{"platform:apps:read"}, ExpiresAt: exp}))
		if len(batch) == benchBatch || i == benchEvents-1 {
			if _, err := env.log.AppendPacked(b.Context(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return env
}

// BenchmarkReplayMemoryMints times a rebuild of the typical log
// (benchMintLog) into memory: both streams, until CatchUp returns.
func BenchmarkReplayMemoryMints(b *testing.B) {
	env := benchMintLog(b)
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
		if got := p.EventsApplied(); got != benchEvents {
			b.Fatalf("applied %d events of %d", got, benchEvents)
		}
		_ = p.Close()
	}
	b.ReportMetric(float64(benchEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
