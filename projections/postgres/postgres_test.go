package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/postgres"
	"github.com/gatehouse/gatehouse/projections/postgres/pgtest"
	"github.com/gatehouse/gatehouse/projections/projectionstest"
)

// TestStore runs the conformance suite, each case on a fresh schema: with
// the writer's cache (the default), without it (every Tx read goes to the
// database) and with a cache so small that it keeps evicting.
func TestStore(t *testing.T) {
	pool := pgtest.Pool(t, "")
	for name, size := range map[string]int{"Cached": 0, "Uncached": -1, "Evicting": 3} {
		t.Run(name, func(t *testing.T) {
			projectionstest.Run(t, func(t *testing.T) projections.Store {
				return open(t, pool, postgres.Config{CacheSize: size})
			})
		})
	}
}

// open opens a store on a fresh, migrated schema of pool's database;
// cfg gives the rest. The suite closes the store; closing twice is fine.
func open(t testing.TB, pool *pgxpool.Pool, cfg postgres.Config) *postgres.Store {
	t.Helper()
	if cfg.Schema == "" {
		cfg.Schema = pgtest.Schema(t, pool)
	}
	if cfg.Pool == nil && cfg.URL == "" {
		cfg.Pool = pool
	}
	cfg.Migrate = true
	s, err := postgres.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
