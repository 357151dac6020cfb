package loadgen

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// BenchmarkCodeFlowSteps runs the code and refresh scenarios' steps
// against a server in the test process (servertest), 32 at once as
// make bench does: one process holds the server and the load generator,
// so `go test -cpuprofile` shows both (the load generator's share is
// what runs under prepareCode's and prepareRefresh's steps).
func BenchmarkCodeFlowSteps(b *testing.B) {
	s := servertest.New(b, servertest.Env("RATE_LIMIT", "false"), servertest.Env("RATE_PLATFORM", "0"))
	for _, sc := range []struct {
		name    string
		prepare func(context.Context, *http.Client, benchConfig) (target, error)
	}{{"code", prepareCode}, {"refresh", prepareRefresh}} {
		// Prepared once (a person signed in, 32 families): b.Run calls
		// its function again for each b.N it tries.
		cfg := benchConfig{URL: s.URL, ClientID: s.AdminID, ClientSecret: s.AdminSecret, Concurrency: 32,
			Timeout: 30 * time.Second, Transport: transportRaw}
		t, err := sc.prepare(b.Context(), newBenchClient(cfg), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(t.cleanup)
		b.Run(sc.name, func(b *testing.B) {
			b.SetParallelism((cfg.Concurrency + 1) / 2)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if kind := t.step(context.Background()); kind != "" {
						b.Error(kind)
						return
					}
				}
			})
		})
	}
}
