package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/postgres"
	"github.com/gatehouse/gatehouse/server"
)

// runProjections is `gatehouse projections <subcommand>`.
func runProjections(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		printHelp(stdout, "projections")
		return nil
	}
	if len(args) == 0 || args[0] != "rebuild" {
		printHelp(stderr, "projections")
		return usageError{Err: errors.New("projections: the only subcommand is rebuild")}
	}
	return rebuild(ctx, args[1:], os.LookupEnv, stdout, stderr)
}

// rebuild is runProjections' rebuild with the environment given.
func rebuild(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	keepOld := false
	var rest []string
	for _, a := range args {
		switch a {
		case "--keep-old", "-keep-old":
			keepOld = true
		default:
			rest = append(rest, a)
		}
	}
	cfg, err := server.LoadConfig(rest, lookup)
	if errors.Is(err, server.ErrHelp) {
		printHelp(stdout, "projections")
		return nil
	}
	if err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return server.ConfigError{errors.New(server.EnvPrefix + "DATABASE_URL: not set: rebuild is for PostgreSQL projections (in-memory ones are rebuilt at every start)")}
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	el, err := server.OpenEventLog(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer el.Close()
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	defer pool.Close()

	stamp := time.Now().UTC().Format("20060102150405")
	target := cfg.DatabaseSchema
	fresh, retired := target+"_rebuild_"+stamp, target+"_old_"+stamp
	store, err := postgres.Open(ctx, postgres.Config{Pool: pool, Schema: fresh, Migrate: true})
	if err != nil {
		return err
	}
	swapped := false
	defer func() {
		if !swapped { // a failed or interrupted rebuild leaves nothing behind
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = postgres.DropSchema(dctx, pool, fresh)
		}
	}()
	fmt.Fprintf(stdout, "rebuilding the projections of schema %s in %s\n", target, fresh)
	start := time.Now()
	n, err := replay(ctx, el.JetStream, store, log, stderr)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	fmt.Fprintf(stdout, "replayed %d events in %s: %.0f events/s\n", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())

	err = postgres.Swap(ctx, pool, fresh, target, retired, func(ctx context.Context, cp projections.Checkpoint) error {
		p, err := startProjector(ctx, el.JetStream, store, log)
		if err != nil {
			return err
		}
		defer p.Close()
		return p.WaitForAll(ctx, cp)
	})
	if err != nil {
		return err
	}
	swapped = true
	fmt.Fprintf(stdout, "swapped in: schema %s now holds the rebuilt projections\n", target)
	if keepOld {
		fmt.Fprintf(stdout, "the previous tables are in schema %s (drop it when done)\n", retired)
		return nil
	}
	if err := postgres.DropSchema(ctx, pool, retired); err != nil {
		return fmt.Errorf("drop the previous tables (schema %s): %w", retired, err)
	}
	fmt.Fprintf(stdout, "dropped the previous tables\n")
	return nil
}

func startProjector(ctx context.Context, log events.Log, store projections.Store, logger *slog.Logger) (*projections.Projector, error) {
	p, err := projections.New(projections.Config{Log: log, Store: store, Logger: logger})
	if err != nil {
		return nil, err
	}
	return p, p.Start(ctx)
}

// replay projects the log into store up to the last sequences it had when
// replay started, drawing a progress bar on progress, and returns how
// many events it applied.
func replay(ctx context.Context, log *events.JetStream, store projections.Store, logger *slog.Logger, progress io.Writer) (uint64, error) {
	var total uint64
	last := projections.Checkpoint{}
	for _, s := range events.Streams {
		seq, err := log.LastSeq(ctx, s)
		if err != nil {
			return 0, err
		}
		last[s], total = seq, total+seq
	}
	p, err := startProjector(ctx, log, store, logger)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	done := make(chan error, 1)
	go func() { done <- p.WaitForAll(ctx, last) }()
	bar := newProgressBar(progress, total)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			bar.draw(total, p.EventsApplied(), true)
			return p.EventsApplied(), err
		case <-tick.C:
			var at uint64
			for s := range last {
				at += min(p.Applied(s), last[s])
			}
			bar.draw(at, p.EventsApplied(), false)
		}
	}
}

// progressBar draws `[=====>    ]  52%  1234/2345 messages  98765 events/s`
// on a terminal (redrawn in place), or a line every 2 s elsewhere.
type progressBar struct {
	w        io.Writer
	total    uint64
	start    time.Time
	tty      bool
	lastLine time.Time
}

func newProgressBar(w io.Writer, total uint64) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressBar{w: w, total: total, start: time.Now(), tty: tty}
}

func (b *progressBar) draw(at, applied uint64, final bool) {
	if !b.tty && !final && time.Since(b.lastLine) < 2*time.Second {
		return
	}
	b.lastLine = time.Now()
	const width = 30
	frac := 1.0
	if b.total > 0 {
		frac = min(float64(at)/float64(b.total), 1)
	}
	full := int(frac * width)
	bar := strings.Repeat("=", full)
	if full < width {
		bar += ">" + strings.Repeat(" ", width-full-1)
	}
	rate := float64(applied) / max(time.Since(b.start).Seconds(), 1e-3)
	line := fmt.Sprintf("[%s] %3.0f%%  %d/%d messages  %d events  %.0f events/s", bar, frac*100, at, b.total, applied, rate)
	switch {
	case b.tty && final:
		fmt.Fprintf(b.w, "\r%s\n", line)
	case b.tty:
		fmt.Fprintf(b.w, "\r%s", line)
	default:
		fmt.Fprintln(b.w, line)
	}
}
