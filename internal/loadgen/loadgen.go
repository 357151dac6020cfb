// Package loadgen is the load generator behind `gatehouse bench`: it
// loads a running server (mint, introspect, jwks, healthz, deliver, the
// code flow) and reports throughput and latency percentiles, and `bench
// seed` writes a data directory of many apps for the heap figures. It is
// a client of the HTTP API only; the server's packages never import it.
package loadgen

import (
	"context"
	"errors"
	"io"
)

// Run runs `gatehouse bench` with args (after "bench").
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runBench(ctx, args, stdout, stderr)
}

// ErrUsage is matched by the errors of a wrong command line (main exits
// with its usage code).
var ErrUsage = errors.New("loadgen: usage")

// usageError is a wrong command line.
type usageError struct{ err error }

func (e usageError) Error() string        { return e.err.Error() }
func (e usageError) Unwrap() error        { return e.err }
func (e usageError) Is(target error) bool { return target == ErrUsage }

// envPrefix is the prefix of the environment variables bench reads
// (GATEHOUSE_BENCH_*), the server's.
const envPrefix = "GATEHOUSE_"
