//go:build unix

package loadgen

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/cputime"
	"github.com/gatehouse/gatehouse/server/servertest"
)

// BenchmarkCodeFlowSteps runs the code and refresh scenarios' steps
// (and, as authorize, the code scenario's first request alone)
// against a server in the test process (servertest), 32 at once as
// make bench does: one process holds the server and the load generator,
// so `go test -cpuprofile` shows both (the load generator's share is
// what runs under prepareCode's and prepareRefresh's steps), and
// cpu-µs/op is their CPU per step, the setup left out.
func BenchmarkCodeFlowSteps(b *testing.B) {
	s := servertest.New(b, servertest.Env("RATE_LIMIT", "false"), servertest.Env("RATE_PLATFORM", "0"))
	for _, sc := range []struct {
		name    string
		prepare func(context.Context, *http.Client, benchConfig) (target, error)
	}{{"code", prepareCode}, {"refresh", prepareRefresh}, {"authorize", prepareAuthorize}} {
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
			cpu0 := processCPU(b)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if kind := t.step(context.Background()); kind != "" {
						b.Error(kind)
						return
					}
				}
			})
			// The process's CPU (server and load generator) per step:
			// wall time per op says little on a machine shared with others.
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// prepareAuthorize: each step is the code scenario's authorize request
// alone, its answer the redirect with a code (never exchanged: the codes
// expire).
func prepareAuthorize(ctx context.Context, c *http.Client, cfg benchConfig) (target, error) {
	rp, err := newCodeLoad(ctx, c, cfg)
	if err != nil {
		return target{}, err
	}
	return target{step: func(ctx context.Context) string {
		_, _, kind := rp.authorize(ctx)
		return kind
	}, cleanup: rp.steps.close}, nil
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU(b *testing.B) time.Duration {
	d, err := cputime.Process()
	if err != nil {
		b.Fatal(err)
	}
	return d
}
