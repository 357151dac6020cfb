package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Kinds of error besides "status NNN".
const (
	errBadBody    = "bad body"   // a 200 whose body the scenario refuses
	errConnection = "connection" // no answer: refused, reset, closed
	errTimeout    = "timeout"    // no answer within --timeout
)

// bench checks that the server answers, prepares cfg's scenario, sends
// its load and sums up the measured phase. Progress goes to stderr.
func bench(ctx context.Context, cfg benchConfig, stderr io.Writer) (benchResult, error) {
	client := newBenchClient(cfg)
	defer client.CloseIdleConnections()
	if err := probe(ctx, client, cfg.URL); err != nil {
		return benchResult{}, err
	}
	t, err := scenarios()[cfg.Scenario].prepare(ctx, client, cfg)
	if err != nil {
		return benchResult{}, err
	}
	if t.cleanup != nil {
		defer t.cleanup()
	}
	var dial func() benchConn
	if t.step == nil {
		if dial, err = newConnFunc(cfg.Transport, client, t, cfg.Timeout); err != nil {
			return benchResult{}, err
		}
	}
	var progress io.Writer
	if !cfg.Quiet {
		progress = stderr
	}
	rounds := 1
	if len(t.compare) > 0 {
		rounds = cfg.Rounds
	}
	// Each round loads the comparands and the scenario's own target in
	// turn, the first of them rotating by one a round; index
	// len(t.compare) is the target itself.
	own := len(t.compare)
	var main measured
	others := make([]measured, own)
	var r *runner
	var perRound []roundFigures
	for i := range rounds {
		slice := cfg.round(i, rounds)
		var rf roundFigures
		for j := range own + 1 {
			k := (i + j) % (own + 1)
			if k != own {
				st, el, err := loadComparand(ctx, client, slice, t.compare[k], t.check)
				if err != nil {
					return benchResult{}, err
				}
				others[k].add(st, el)
				rf.set(k, st, el)
				continue
			}
			r = newRunner(dial, t.check, slice)
			r.step = t.step
			if t.okCode != 0 {
				r.okCode = t.okCode
			}
			if t.receive != nil {
				r.onStart = t.receive.window
			}
			st, el := r.run(ctx, progress)
			main.add(st, el)
			rf.OKRPS = okRate(st, el)
		}
		perRound = append(perRound, rf.compared())
		if ctx.Err() != nil {
			break
		}
	}
	st, elapsed := main.total()
	res := newBenchResult(cfg, st, elapsed)
	if b := t.baseline; b != nil {
		dst, del := others[0].total()
		b.figures = figuresOf(newBenchResult(cfg, dst, del))
		b.Ratio, b.AddedP50ms = compared(figuresOf(res), b.figures)
		if ref := b.Reference; ref != nil && own > 1 {
			rst, rel := others[1].total()
			ref.figures = figuresOf(newBenchResult(cfg, rst, rel))
			ref.Ratio, ref.AddedP50ms = compared(ref.figures, b.figures)
		}
		if rounds > 1 {
			b.Rounds = perRound
		}
		res.Baseline = b
	}
	if t.finish != nil && ctx.Err() == nil {
		fin, err := t.finish(ctx)
		if err != nil {
			return res, err
		}
		res.Finish = fin
	}
	if t.receive != nil {
		ds := finishDeliver(t.receive, r.answers.Load()-r.failures.Load(), elapsed, 15*time.Second)
		res.Delivery = &ds
	}
	if res.OK == 0 && res.Requests > 0 && res.ErrorsByKind[errConnection]+res.ErrorsByKind[errTimeout] == res.Requests {
		return res, fmt.Errorf("server at %s stopped answering: %d requests without an answer", cfg.URL, res.Requests)
	}
	return res, nil
}

// measured sums a target's rounds.
type measured struct {
	parts   []*workerStats
	elapsed time.Duration
}

func (m *measured) add(st *workerStats, elapsed time.Duration) {
	m.parts = append(m.parts, st)
	m.elapsed += elapsed
}

// total is every round's statistics merged and their measured time.
func (m *measured) total() (*workerStats, time.Duration) {
	return mergeStats(m.parts), m.elapsed
}

// round is cfg for round i of n: its share of the measured phase
// (--requests or --duration), and after the first round a warmup of at
// most 200ms, which new connections need and the server no longer does.
func (c benchConfig) round(i, n int) benchConfig {
	if n <= 1 {
		return c
	}
	if c.Requests > 0 {
		share := c.Requests / n
		if i < c.Requests%n {
			share++
		}
		c.Requests = share
	} else {
		c.Duration /= time.Duration(n)
	}
	if i > 0 {
		c.Warmup = min(c.Warmup, 200*time.Millisecond)
	}
	return c
}

// loadComparand is one round of cfg's load on a comparand.
func loadComparand(ctx context.Context, c *http.Client, cfg benchConfig, to comparand, check func([]byte) bool) (*workerStats, time.Duration, error) {
	t := target{method: http.MethodGet, url: to.url, header: http.Header{"Authorization": {to.authorization}}, check: check}
	dial, err := newConnFunc(cfg.Transport, c, t, cfg.Timeout)
	if err != nil {
		return nil, 0, err
	}
	st, elapsed := newRunner(dial, check, cfg).run(ctx, nil)
	return st, elapsed, nil
}

// okRate is the good answers a second of a measured phase.
func okRate(st *workerStats, elapsed time.Duration) float64 {
	if s := elapsed.Seconds(); s > 0 {
		return float64(st.hist.n) / s
	}
	return 0
}

// newBenchClient keeps one HTTP/1.1 keep-alive connection per worker.
func newBenchClient(cfg benchConfig) *http.Client {
	idle := cfg.Concurrency + 8
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// probe fails when nothing answers GET /healthz at base.
func probe(ctx context.Context, c *http.Client, base string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := c.Do(target{method: http.MethodGet, url: base + healthzPath, header: http.Header{}}.request(ctx))
	if err != nil {
		return fmt.Errorf("server unreachable at %s: %w", base, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	return res.Body.Close()
}

// runner sends one target from many workers: first for the warmup, then
// for the measured phase, which ends after a duration or a number of
// requests.
type runner struct {
	dial     func() benchConn
	step     func(ctx context.Context) string // instead of dial, when set
	check    func(body []byte) bool
	okCode   int // the status of a good answer (200 unless the target says)
	onStart  func(measureFrom, until time.Time)
	workers  int
	warmup   time.Duration
	duration time.Duration
	counted  bool         // the measured phase is a number of requests
	left     atomic.Int64 // measured requests not yet sent, when counted
	tick     time.Duration

	measureFrom time.Time
	until       time.Time // end of the measured phase, unless counted

	// answers and failures so far, warmup included: the progress line.
	answers, failures atomic.Int64
}

func newRunner(dial func() benchConn, check func([]byte) bool, cfg benchConfig) *runner {
	r := &runner{dial: dial, check: check, okCode: http.StatusOK, workers: cfg.Concurrency, warmup: cfg.Warmup,
		duration: cfg.Duration, counted: cfg.Requests > 0, tick: time.Second}
	r.left.Store(int64(cfg.Requests))
	return r
}

// run sends the load until the measured phase ends or ctx is done, and
// returns what the measured phase recorded and how long it lasted.
func (r *runner) run(ctx context.Context, progress io.Writer) (*workerStats, time.Duration) {
	start := time.Now()
	r.measureFrom = start.Add(r.warmup)
	r.until = r.measureFrom.Add(r.duration)
	if r.onStart != nil {
		end := r.until
		if r.counted {
			end = time.Time{}
		}
		r.onStart(r.measureFrom, end)
	}
	shards := newStatShards(r.workers)
	var wg sync.WaitGroup
	for i := range r.workers {
		wg.Go(func() { r.work(ctx, shards[i%len(shards)]) })
	}
	stop := r.report(progress, start)
	wg.Wait()
	elapsed := time.Since(r.measureFrom)
	stop()
	return mergeStats(shards), max(elapsed, 0)
}

// work is one worker: one request at a time, on its own connection.
func (r *runner) work(ctx context.Context, st *workerStats) {
	send := func() (time.Duration, string) {
		start := time.Now()
		kind := r.step(ctx)
		return time.Since(start), kind
	}
	if r.step == nil {
		c := r.dial()
		defer c.close()
		var buf bytes.Buffer
		send = func() (time.Duration, string) { return r.once(ctx, c, &buf) }
	}
	for ctx.Err() == nil {
		measured := !time.Now().Before(r.measureFrom)
		if measured && !r.take() {
			return
		}
		lat, kind := send()
		r.answers.Add(1)
		if kind != "" {
			r.failures.Add(1)
		}
		if measured && ctx.Err() == nil {
			st.record(kind, lat)
		}
	}
}

// take reports whether the measured phase admits one more request.
func (r *runner) take() bool {
	if r.counted {
		return r.left.Add(-1) >= 0
	}
	return time.Now().Before(r.until)
}

// once sends one request on c and returns its latency, up to the end of
// its body, and its kind of error ("" for a good answer).
func (r *runner) once(ctx context.Context, c benchConn, buf *bytes.Buffer) (time.Duration, string) {
	start := time.Now()
	status, err := c.do(ctx, buf)
	lat := time.Since(start)
	switch {
	case err != nil:
		return lat, transportKind(err)
	case status != r.okCode:
		return lat, "status " + strconv.Itoa(status)
	case r.check != nil && !r.check(buf.Bytes()):
		return lat, errBadBody
	}
	return lat, ""
}

func transportKind(err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return errTimeout
	}
	return errConnection
}

// report prints a progress line to w every tick until stop is called;
// with w nil it prints nothing.
func (r *runner) report(w io.Writer, start time.Time) (stop func()) {
	if w == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(r.tick)
		defer t.Stop()
		last, lastAt := int64(0), start
		for {
			select {
			case <-done:
				endProgress(w)
				return
			case now := <-t.C:
				n := r.answers.Load()
				r.printProgress(w, now.Sub(start), float64(n-last)/now.Sub(lastAt).Seconds(), now.Before(r.measureFrom))
				last, lastAt = n, now
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func (r *runner) printProgress(w io.Writer, elapsed time.Duration, rate float64, warming bool) {
	phase := ""
	if warming {
		phase = "  (warmup)"
	}
	line := fmt.Sprintf("%5.0fs %10.0f req/s %8d errors%s", elapsed.Seconds(), rate, r.failures.Load(), phase)
	if isTerminal(w) {
		fmt.Fprintf(w, "\r\033[K%s", line)
		return
	}
	fmt.Fprintln(w, line)
}

// endProgress ends a progress line that a terminal keeps rewriting.
func endProgress(w io.Writer) {
	if isTerminal(w) {
		fmt.Fprint(w, "\r\033[K")
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// workerStats is what workers recorded in the measured phase: latencies
// of good answers, counts of errors by kind. A few workers share one.
type workerStats struct {
	mu   sync.Mutex
	hist histogram
	errs map[string]int64
}

func (s *workerStats) record(kind string, lat time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if kind == "" {
		s.hist.record(lat)
		return
	}
	s.errs[kind]++
}

// newStatShards bounds the memory of the statistics (a histogram is 35 KB)
// whatever the concurrency, and keeps the workers' locks apart.
func newStatShards(workers int) []*workerStats {
	shards := make([]*workerStats, min(workers, 64))
	for i := range shards {
		shards[i] = &workerStats{errs: map[string]int64{}}
	}
	return shards
}

func mergeStats(shards []*workerStats) *workerStats {
	total := &workerStats{errs: map[string]int64{}}
	for _, s := range shards {
		total.hist.merge(&s.hist)
		for k, n := range s.errs {
			total.errs[k] += n
		}
	}
	return total
}
