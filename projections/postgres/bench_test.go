package postgres_test

import (
	"log/slog"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/postgres"
	"github.com/gatehouse/gatehouse/projections/postgres/pgtest"
	"github.com/gatehouse/gatehouse/projections/projectionstest"
)

// BenchmarkReplayPostgres times a rebuild into PostgreSQL of the worst
// case (projectionstest.AppendRewrites: every event rewrites a document
// and moves a unique key).
func BenchmarkReplayPostgres(b *testing.B) {
	pool := pgtest.Pool(b, "")
	log := natstest.Open(b, natstest.Connect(b, natstest.Embedded(b)))
	projectionstest.AppendRewrites(b, log)
	benchReplay(b, pool, log)
}

// BenchmarkReplayPostgresMints times a rebuild into PostgreSQL of the
// typical log of a busy server (projectionstest.AppendMints).
func BenchmarkReplayPostgresMints(b *testing.B) {
	pool := pgtest.Pool(b, "")
	log := natstest.Open(b, natstest.Connect(b, natstest.Embedded(b)))
	projectionstest.AppendMints(b, log)
	benchReplay(b, pool, log)
}

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
		if got := p.EventsApplied(); got != projectionstest.WorkloadEvents {
			b.Fatalf("applied %d events of %d", got, projectionstest.WorkloadEvents)
		}
		_ = p.Close()
	}
	b.ReportMetric(float64(projectionstest.WorkloadEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
