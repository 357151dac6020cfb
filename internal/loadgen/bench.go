package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// benchConfig is the command line of `gatehouse bench`.
type benchConfig struct {
	URL          string
	Scenario     string
	ClientID     string
	ClientSecret string
	Scope        string
	Concurrency  int
	Duration     time.Duration
	Requests     int
	Warmup       time.Duration
	Timeout      time.Duration
	Transport    string
	JSON         bool
	JSONOut      string
	Quiet        bool
	EventKiB     int
	Settle       time.Duration
	// UpstreamAddr and Reference: the proxy scenarios' upstream address
	// and another proxy in front of it, loaded in the same run.
	UpstreamAddr string
	Reference    string
	// Rounds splits a scenario with comparands (proxy) into this many
	// rounds, each loading every target in turn for its share of the
	// measured phase: drift of the machine then falls on all of them.
	Rounds int
	// IDTokenAlg is the code flow's app's id_token_signed_response_alg
	// ("": the server's default).
	IDTokenAlg string
}

// runBench is `gatehouse bench`: load against a running server. Errors in
// answers are counted and printed, not returned; only a server that cannot
// be reached (or a scenario that cannot be prepared) fails the command.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "seed" {
		return runBenchSeed(ctx, args[1:], stdout, stderr)
	}
	cfg, err := parseBenchFlags(args, os.LookupEnv)
	if errors.Is(err, flag.ErrHelp) {
		printBenchHelp(stdout)
		return nil
	}
	if err != nil {
		return err
	}
	res, err := bench(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	if err := writeBenchResult(stdout, cfg, res); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: the figures above cover %.2fs", res.Seconds)
	}
	return nil
}

// benchFlags returns the flag set of bench, silent (callers print usage),
// filling cfg; the client credentials default to the bootstrap variables.
func benchFlags(cfg *benchConfig, lookup func(string) (string, bool)) *flag.FlagSet {
	env := func(name string) string { v, _ := lookup(envPrefix + name); return v }
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.URL, "url", "http://127.0.0.1:8080", "base URL of the running server")
	fs.StringVar(&cfg.Scenario, "scenario", "mint", "what to send: "+strings.Join(scenarioNames(), ", "))
	fs.StringVar(&cfg.ClientID, "client-id", env("BOOTSTRAP_CLIENT_ID"), "client_id for mint and introspect (default $GATEHOUSE_BOOTSTRAP_CLIENT_ID)")
	fs.StringVar(&cfg.ClientSecret, "client-secret", env("BOOTSTRAP_CLIENT_SECRET"), "its client secret (default $GATEHOUSE_BOOTSTRAP_CLIENT_SECRET)")
	fs.StringVar(&cfg.Scope, "scope", "", "scope parameter of the token request; empty asks for every approved scope")
	fs.IntVar(&cfg.Concurrency, "concurrency", 32, "requests in flight (one connection each)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to measure, after the warmup")
	fs.IntVar(&cfg.Requests, "requests", 0, "measure this many requests instead of a duration")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "load sent first and left out of the figures")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "time limit of one request")
	fs.StringVar(&cfg.Transport, "transport", transportRaw, "HTTP/1.1 client: raw (light, for http:// URLs) or net/http (used for https://)")
	fs.BoolVar(&cfg.JSON, "json", false, "print the result as JSON instead of text")
	fs.StringVar(&cfg.JSONOut, "json-out", "", "also write the result as JSON to this file")
	fs.BoolVar(&cfg.Quiet, "quiet", false, "no progress line on stderr")
	fs.IntVar(&cfg.EventKiB, "event-kib", 64, "publish: size of each event's data, in KiB")
	fs.DurationVar(&cfg.Settle, "settle", 10*time.Minute, "publish: how long to wait after the load for every delivery to end")
	fs.StringVar(&cfg.IDTokenAlg, "id-token-alg", "ES256", "code and refresh scenarios: the app's id_token_signed_response_alg (ES256, about 40 µs of CPU an ID token; RS256, the server's default, about 1.1 ms); empty: the server's default")
	fs.StringVar(&cfg.UpstreamAddr, "upstream-addr", "127.0.0.1:0", "proxy scenarios: where bench serves the upstream API (a fixed port lets --reference point at it)")
	fs.StringVar(&cfg.Reference, "reference", "", "proxy scenarios: base URL of another proxy in front of --upstream-addr (nginx, say), loaded after the baseline with the provider token as the client's bearer: the same run's figure of a reference proxy")
	fs.IntVar(&cfg.Rounds, "rounds", 1, "proxy scenarios: split the measured phase (--duration or --requests) into this many rounds, each loading the upstream directly, the reference proxy and the credential proxy in turn (rotating which goes first), and sum each one's rounds: the machine's drift during the run then weighs on all three alike; later rounds warm up for at most 200ms")
	return fs
}

// parseBenchFlags reads and checks the command line; -h returns
// flag.ErrHelp.
func parseBenchFlags(args []string, lookup func(string) (string, bool)) (benchConfig, error) {
	var cfg benchConfig
	fs := benchFlags(&cfg, lookup)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, usageError{err}
	}
	if fs.NArg() > 0 {
		return cfg, usageError{fmt.Errorf("bench takes no arguments, got %q", fs.Arg(0))}
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	if err := cfg.validate(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

// validate reports the first setting bench cannot run with.
func (c benchConfig) validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("--url %q is not an http(s) URL (like http://127.0.0.1:8080)", c.URL)
	case scenarios()[c.Scenario].prepare == nil:
		return fmt.Errorf("--scenario %q is not one of %s", c.Scenario, strings.Join(scenarioNames(), ", "))
	case c.Concurrency < 1 || c.Concurrency > 10_000:
		return fmt.Errorf("--concurrency %d is not between 1 and 10000", c.Concurrency)
	case c.Requests < 0 || (c.Requests == 0 && c.Duration <= 0):
		return errors.New("--duration must be positive, or --requests set")
	case c.Transport != transportRaw && c.Transport != transportNetHTTP:
		return fmt.Errorf("--transport %q is not %s or %s", c.Transport, transportRaw, transportNetHTTP)
	case c.EventKiB < 0 || c.EventKiB > 900 || c.Settle <= 0:
		return errors.New("--event-kib must be between 0 and 900 and --settle positive")
	case c.Rounds < 1 || c.Rounds > 100 || (c.Requests > 0 && c.Requests < c.Rounds):
		return errors.New("--rounds must be between 1 and 100, and not above --requests")
	case c.Warmup < 0 || c.Timeout <= 0:
		return errors.New("--warmup must not be negative and --timeout must be positive")
	case c.Reference != "" && !strings.HasPrefix(c.Reference, "http://"):
		return fmt.Errorf("--reference %q is not an http:// URL", c.Reference)
	case needsClient(c.Scenario) && (c.ClientID == "" || c.ClientSecret == ""):
		return fmt.Errorf("--scenario %s needs --client-id and --client-secret (or GATEHOUSE_BOOTSTRAP_CLIENT_ID and _SECRET)", c.Scenario)
	}
	return nil
}

func printBenchHelp(w io.Writer) {
	fmt.Fprint(w, "Usage: gatehouse bench [flags]\n\n"+
		"Sends load to a running server and reports requests, errors (by status),\n"+
		"req/s and the p50/p90/p99/max latency of successful answers. Warmup\n"+
		"requests are left out. Each of --concurrency workers keeps one HTTP/1.1\n"+
		"keep-alive connection and sends its next request when the answer is in,\n"+
		"through a light client of its own (--transport raw, http:// only) that\n"+
		"costs the shared machine half of what net/http's client does.\n"+
		"Errors are counted, not fatal: the exit code is 0 unless the server\n"+
		"cannot be reached, the scenario cannot be prepared, or the run is\n"+
		"interrupted (the figures so far are printed first).\n\nScenarios:\n")
	for _, name := range scenarioNames() {
		fmt.Fprintf(w, "  %-11s %s\n", name, scenarios()[name].summary)
	}
	fmt.Fprint(w, "\nFlags:\n")
	var cfg benchConfig
	benchFlags(&cfg, func(string) (string, bool) { return "", false }).VisitAll(func(f *flag.Flag) {
		kind, help := flag.UnquoteUsage(f)
		def := ""
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(w, "  --%s %s%s\n      %s\n", f.Name, kind, def, help)
	})
}

// benchResult is what a run measured; its JSON is the --json output.
type benchResult struct {
	Scenario     string           `json:"scenario"`
	URL          string           `json:"url"`
	Concurrency  int              `json:"concurrency"`
	WarmupS      float64          `json:"warmup_s"`
	Seconds      float64          `json:"seconds"`
	Requests     int64            `json:"requests"`
	OK           int64            `json:"ok"`
	Errors       int64            `json:"errors"`
	ErrorsByKind map[string]int64 `json:"errors_by_kind"`
	RPS          float64          `json:"rps"`
	OKRPS        float64          `json:"ok_rps"`
	P50ms        float64          `json:"p50_ms"`
	P90ms        float64          `json:"p90_ms"`
	P99ms        float64          `json:"p99_ms"`
	MaxMs        float64          `json:"max_ms"`
	MeanMs       float64          `json:"mean_ms"`
	// Delivery: what the deliver scenario's receiver measured.
	Delivery *deliveryStats `json:"delivery,omitempty"`
	// Finish: what the scenario's wait after the load saw (publish).
	Finish string `json:"finish,omitempty"`
	// Baseline: the same load on another target first (proxy: the
	// upstream directly).
	Baseline *baseline `json:"baseline,omitempty"`
}

// newBenchResult sums up the measured phase.
func newBenchResult(cfg benchConfig, st *workerStats, elapsed time.Duration) benchResult {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	r := benchResult{
		Scenario: cfg.Scenario, URL: cfg.URL, Concurrency: cfg.Concurrency,
		WarmupS: cfg.Warmup.Seconds(), Seconds: elapsed.Seconds(),
		OK: st.hist.n, ErrorsByKind: st.errs,
		P50ms: ms(st.hist.percentile(50)), P90ms: ms(st.hist.percentile(90)), P99ms: ms(st.hist.percentile(99)),
		MaxMs: ms(st.hist.max), MeanMs: ms(st.hist.mean()),
	}
	for _, n := range st.errs {
		r.Errors += n
	}
	r.Requests = r.OK + r.Errors
	if s := elapsed.Seconds(); s > 0 {
		r.RPS, r.OKRPS = float64(r.Requests)/s, float64(r.OK)/s
	}
	return r
}

// writeBenchResult prints res as text or JSON, and to --json-out.
func writeBenchResult(w io.Writer, cfg benchConfig, res benchResult) error {
	js, err := json.Marshal(res)
	if err != nil {
		return err
	}
	js = append(js, '\n')
	if cfg.JSONOut != "" {
		if err := os.WriteFile(cfg.JSONOut, js, 0o644); err != nil {
			return fmt.Errorf("--json-out: %w", err)
		}
	}
	if cfg.JSON {
		_, err = w.Write(js)
		return err
	}
	printBenchText(w, res)
	return nil
}

func printBenchText(w io.Writer, r benchResult) {
	sc := scenarios()[r.Scenario]
	fmt.Fprintf(w, "%s: %s %s%s\n", r.Scenario, sc.method, r.URL, sc.path)
	fmt.Fprintf(w, "  concurrency %d, warmup %gs, measured %.2fs\n", r.Concurrency, r.WarmupS, r.Seconds)
	fmt.Fprintf(w, "  requests    %d (%d ok, %d errors)\n", r.Requests, r.OK, r.Errors)
	fmt.Fprintf(w, "  throughput  %.1f req/s (%.1f ok/s)\n", r.RPS, r.OKRPS)
	fmt.Fprintf(w, "  latency     p50 %s  p90 %s  p99 %s  max %s  mean %s\n",
		fmtMs(r.P50ms), fmtMs(r.P90ms), fmtMs(r.P99ms), fmtMs(r.MaxMs), fmtMs(r.MeanMs))
	if d := r.Delivery; d != nil {
		fmt.Fprintf(w, "  deliveries  %d in the measured window (%.1f/s), %d duplicates, %d missing after the drain\n",
			d.Deliveries, d.PerSecond, d.Duplicates, d.Missing)
		fmt.Fprintf(w, "  event→delivery latency  p50 %s  p99 %s\n", fmtMs(d.P50ms), fmtMs(d.P99ms))
	}
	if r.Finish != "" {
		fmt.Fprintf(w, "  after       %s\n", r.Finish)
	}
	if b := r.Baseline; b != nil {
		fmt.Fprintf(w, "  baseline    %s directly %.1f ok/s, p50 %s, p99 %s, %d errors: through the proxy %.1f %% of it, p50 %+.3f ms\n",
			b.Upstream, b.OKRPS, fmtMs(b.P50ms), fmtMs(b.P99ms), b.Errors, b.Ratio, b.AddedP50ms)
		if ref := b.Reference; ref != nil {
			fmt.Fprintf(w, "  reference   %s %.1f ok/s, p50 %s, p99 %s, %d errors: %.1f %% of direct, p50 %+.3f ms\n",
				ref.URL, ref.OKRPS, fmtMs(ref.P50ms), fmtMs(ref.P99ms), ref.Errors, ref.Ratio, ref.AddedP50ms)
		}
	}
	if r.Errors > 0 {
		kinds := slices.Sorted(maps.Keys(r.ErrorsByKind))
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			parts[i] = fmt.Sprintf("%s: %d", k, r.ErrorsByKind[k])
		}
		fmt.Fprintf(w, "  errors      %s\n", strings.Join(parts, ", "))
	}
}

// fmtMs prints milliseconds with about three significant digits.
func fmtMs(ms float64) string {
	switch {
	case ms < 10:
		return fmt.Sprintf("%.3fms", ms)
	case ms < 100:
		return fmt.Sprintf("%.2fms", ms)
	}
	return fmt.Sprintf("%.1fms", ms)
}
