package postgres_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/postgres"
	"github.com/gatehouse/gatehouse/projections/postgres/pgtest"
)

// The replay workload of projections.BenchmarkReplayMemory: benchApps
// apps created, then renamed until the log holds benchEvents events,
// appended in atomic batches of benchBatch.
const (
	benchEvents = 100_000
	benchApps   = 1_000
	benchBatch  = 500
)

// BenchmarkReplayPostgres times a rebuild into PostgreSQL: a fresh
// projector and store on a fresh schema, from sequence 0 until CatchUp
// returns (the schema's creation is not timed).
func BenchmarkReplayPostgres(b *testing.B) {
	pool := pgtest.Pool(b, "")
	log := natstest.Open(b, natstest.Connect(b, natstest.Embedded(b)))
	batch := make([]events.Event, 0, benchBatch)
	for i := range benchEvents {
		id := fmt.Sprintf("app_%d", i%benchApps)
		if i < benchApps {
			batch = append(batch, appCreated("t1", id, id, "cid_"+id, i))
		} else {
			name := fmt.Sprintf("%s v%d", id, i/benchApps)
			batch = append(batch, ev("t1", events.AggApp, id, i, &events.AppUpdated{Name: &name}))
		}
		if len(batch) == benchBatch {
			appendAll(b, log, batch...)
			batch = batch[:0]
		}
	}
	benchReplay(b, pool, log)
}

// benchReplay times rebuilds of log into fresh schemas (their creation
// is not timed), each from sequence 0 until CatchUp returns, and reports
// events/s.
func benchReplay(b *testing.B, pool *pgxpool.Pool, log events.Log) {
	for b.Loop() {
		b.StopTimer()
		store := open(b, pool, postgres.Config{})
		b.StartTimer()
		p, err := projections.New(projections.Config{Log: log, Store: store, Logger: slog.New(slog.DiscardHandler)})
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

// BenchmarkReplayPostgresMints times a rebuild into PostgreSQL of the
// typical log of a busy server: benchApps apps, then token mints packed
// benchBatch to a message as the group committer writes them (they change
// no read model), until the log holds benchEvents events.
func BenchmarkReplayPostgresMints(b *testing.B) {
	pool := pgtest.Pool(b, "")
	log := natstest.Open(b, natstest.Connect(b, natstest.Embedded(b)))
	var apps []events.Event
	for i := range benchApps {
		id := fmt.Sprintf("app_%d", i)
		apps = append(apps, appCreated("t1", id, id, "cid_"+id, i))
	}
	appendAll(b, log, apps...)
	batch := make([]events.Event, 0, benchBatch)
	exp := t0.Add(time.Hour)
	for i := benchApps; i < benchEvents; i++ {
		id := fmt.Sprintf("app_%d", i%benchApps)
		batch = append(batch, ev("t1", events.AggToken, id, i, &events.TokenMinted{
			JTI: fmt.Sprintf("jti_%d", i), AppID: id, ClientID: "cid_" + id, Subject: "cid_" + id,
			GrantType: "client_credentials", Scopes: []string{"platform:apps:read"}, ExpiresAt: exp}))
		if len(batch) == benchBatch || i == benchEvents-1 {
			if _, err := log.AppendPacked(b.Context(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	benchReplay(b, pool, log)
}
