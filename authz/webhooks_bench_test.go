package authz

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/projections/postgres"
	"github.com/gatehouse/gatehouse/projections/postgres/pgtest"
	"github.com/gatehouse/gatehouse/projections/projectionstest"
)

// Webhooks of the benchmarks: benchHooks in one tenant, created round
// robin by benchApps apps (10 each).
const (
	benchHooks = 10_000
	benchApps  = 1_000
)

// BenchmarkAppWebhooks times the reads of one app's webhooks in a tenant
// of benchHooks webhooks across benchApps apps, on both stores: list is
// the app reading all its webhooks (10) with GET /v1/webhooks?limit=50,
// following next_cursor until there is none; quota is the count of a
// create's quota check (checkQuota).
//
//	go test -run '^$' -bench BenchmarkAppWebhooks -benchmem ./authz/
func BenchmarkAppWebhooks(b *testing.B) {
	stores := map[string]func(b *testing.B) projections.Store{
		"memory": func(*testing.B) projections.Store { return memory.New() },
		"postgres": func(b *testing.B) projections.Store {
			pool := pgtest.Pool(b, "")
			s, err := postgres.Open(b.Context(), postgres.Config{Pool: pool, Schema: pgtest.Schema(b, pool), Migrate: true})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
	for _, name := range []string{"memory", "postgres"} {
		b.Run(name, func(b *testing.B) {
			store := stores[name](b)
			fillWebhooks(b, store, "t_bench", benchHooks, benchApps)
			w := &Webhooks{Deps: Deps{Store: store}, PerApp: 50}
			p := oauth.Principal{Tenant: "t_bench", AppID: benchApp(benchApps / 2)}
			ctx := context.Background()
			b.Run("list", func(b *testing.B) {
				requests := 0
				for b.Loop() {
					n, page := 0, projections.Page{Limit: 50}
					for {
						pg, err := w.listWebhooks(ctx, p, page)
						if err != nil {
							b.Fatal(err)
						}
						n, requests = n+len(pg.Items), requests+1
						if page.After = pg.NextCursor; page.After == "" {
							break
						}
					}
					if n != benchHooks/benchApps {
						b.Fatalf("listed %d webhooks, want %d", n, benchHooks/benchApps)
					}
				}
				b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
			})
			b.Run("quota", func(b *testing.B) {
				for b.Loop() {
					c, _, err := w.checkQuota(ctx, p)
					if err != nil || c.Payload.(*events.QuotaCounted).Count != benchHooks/benchApps+1 {
						b.Fatalf("counted %v (%v)", c.Payload, err)
					}
				}
			})
		})
	}
}

func benchApp(i int) string { return fmt.Sprintf("app_%04d", i) }

// fillWebhooks applies the creation of n webhooks of tenant, created in
// turn by apps apps, to store, 500 to an Update.
func fillWebhooks(b testing.TB, store projections.Store, tenant string, n, apps int) {
	b.Helper()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for start := 0; start < n; start += 500 {
		err := store.Update(context.Background(), events.Control, uint64(start+500), func(tx projections.Tx) error {
			for i := start; i < min(start+500, n); i++ {
				e := projectionstest.WebhookCreated(tenant, fmt.Sprintf("wh_%05d", i), benchApp(i%apps), t0.Add(time.Duration(i)*time.Millisecond), uint64(i+1))
				if err := projections.Apply(tx, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
