package loadgen

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/seed"
)

// `gatehouse bench seed` fills a data directory's embedded log with apps,
// for the cold-start figure of issue 7 ("ready in ≤ 2 s with 100,000 apps
// in the log"): it writes what creating them through the API would (an
// app.created and a name.claimed per app), in atomic batches, without a
// server. The apps belong to the tenant "seed"; their secrets are hashes
// of nothing anyone knows (package seed).

// seedBatch apps go into one atomic append (two events each).
const seedBatch = 100

func runBenchSeed(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("bench seed", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dir := fs.String("data-dir", "", "the data directory (GATEHOUSE_DATA_DIR) to fill")
	n := fs.Int("apps", 100_000, "how many apps to write")
	prefix := fs.String("stream-prefix", "gh", "GATEHOUSE_STREAM_PREFIX of the server that will read it")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: gatehouse bench seed --data-dir DIR [--apps N] [--stream-prefix P]")
			return nil
		}
		return usageError{err}
	}
	if *dir == "" || *n < 1 {
		return usageError{errors.New("bench seed needs --data-dir and --apps >= 1")}
	}
	emb, err := events.StartEmbedded(events.EmbeddedConfig{Dir: *dir})
	if err != nil {
		return err
	}
	defer emb.Shutdown()
	nc, err := emb.Connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	log, err := events.Open(ctx, nc, events.Config{Prefix: *prefix})
	if err != nil {
		return err
	}
	start := time.Now()
	for i := 0; i < *n; i += seedBatch {
		var a events.Append
		for j := i; j < min(i+seedBatch, *n); j++ {
			seed.AddApp(&a, j, start)
		}
		if _, err := log.Append(ctx, a); err != nil {
			return fmt.Errorf("bench seed: apps %d-: %w", i, err)
		}
	}
	fmt.Fprintf(stdout, "seeded %d apps (%d events) into %s in %.1fs\n", *n, 2**n, *dir, time.Since(start).Seconds())
	return nil
}
