package proxy

import (
	"context"
	"hash/maphash"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/events"
)

// Usage counts the use of credentials per credential and app: Prometheus
// counters at once, and a credential.used event per credential, app,
// minute and instance that saw use, appended on the high-volume stream
// after the minute ends (through the group committer), never one event
// per request. It is a worker: Start begins the minute clock; Close
// writes what is counted.
type Usage struct {
	// Commit appends one event (the mints' group committer: packed,
	// durable when it returns).
	Commit   func(ctx context.Context, e events.Event) (uint64, error)
	Instance string
	Now      func() time.Time
	Logger   *slog.Logger

	requests, refreshes, exchanges *prometheus.CounterVec
	bytes                          *prometheus.CounterVec

	// The counts of the current minutes, in shards by credential and app
	// (no lock shared by all requests), and each pair's Prometheus series
	// once resolved (WithLabelValues hashes its labels on every call).
	shards [usageShards]usageShard
	seed   maphash.Seed
	series boundedMap[usagePair, *useSeries]
	cancel context.CancelFunc
	done   chan struct{}
}

type usageKey struct {
	tenant, cred, app string
	minute            int64
}

const usageShards = 16

type usageShard struct {
	mu      sync.Mutex
	minutes map[usageKey]*events.CredentialUsed
}

type usagePair struct{ cred, app string }

// useSeries are one credential and app's Prometheus series, resolved on
// first use.
type useSeries struct {
	requests [len(outcomes)]atomic.Pointer[prometheus.Counter]
	in, out  atomic.Pointer[prometheus.Counter]
}

// outcomes are the values of gatehouse_proxy_requests_total's outcome.
var outcomes = [...]string{"2xx", "3xx", "4xx", "5xx", "refused"}

const outcomeRefused = 4

// resolved returns *p, or sets it to mk() first.
func resolved(p *atomic.Pointer[prometheus.Counter], mk func() prometheus.Counter) prometheus.Counter {
	if c := p.Load(); c != nil {
		return *c
	}
	c := mk()
	p.Store(&c)
	return c
}

func (u *Usage) seriesOf(cred, app string) *useSeries {
	k := usagePair{cred, app}
	if s, ok := u.series.load(k); ok {
		return s
	}
	return u.series.loadOrStore(k, &useSeries{})
}

func (u *Usage) request(cred, app string, outcome int) prometheus.Counter {
	return resolved(&u.seriesOf(cred, app).requests[outcome], func() prometheus.Counter {
		return u.requests.WithLabelValues(cred, app, outcomes[outcome])
	})
}

func (u *Usage) bytesOf(cred, app string) (in, out prometheus.Counter) {
	s := u.seriesOf(cred, app)
	in = resolved(&s.in, func() prometheus.Counter { return u.bytes.WithLabelValues(cred, app, "in") })
	out = resolved(&s.out, func() prometheus.Counter { return u.bytes.WithLabelValues(cred, app, "out") })
	return in, out
}

// NewUsage returns the counters, registered on reg (nil: unregistered).
func NewUsage(reg prometheus.Registerer, commit func(context.Context, events.Event) (uint64, error), instance string, now func() time.Time, log *slog.Logger) *Usage {
	u := &Usage{Commit: commit, Instance: instance, Now: now, Logger: log, seed: maphash.MakeSeed()}
	u.series.max = maxSeries
	for i := range u.shards {
		u.shards[i].minutes = map[usageKey]*events.CredentialUsed{}
	}
	u.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_proxy_requests_total",
		Help: "Requests through the credential proxy by credential, app and outcome (2xx, 3xx, 4xx, 5xx: the upstream's answer; refused: answered by Gatehouse without an upstream answer).",
	}, []string{"credential", "app", "outcome"})
	u.refreshes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_proxy_refreshes_total",
		Help: "Refreshes the proxy asked for after an upstream 401, by credential and app.",
	}, []string{"credential", "app"})
	u.exchanges = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_token_exchanges_total",
		Help: "RFC 8693 token exchanges answered with a credential's access token, by credential and app.",
	}, []string{"credential", "app"})
	u.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_proxy_bytes_total",
		Help: "Body bytes streamed through the proxy by credential, app and direction (in: to the upstream, out: to the app).",
	}, []string{"credential", "app", "direction"})
	if reg != nil {
		reg.MustRegister(u.requests, u.refreshes, u.exchanges, u.bytes)
	}
	if u.Now == nil {
		u.Now = time.Now
	}
	if u.Logger == nil {
		u.Logger = slog.Default()
	}
	return u
}

func (u *Usage) add(tenant, cred, app string, f func(*events.CredentialUsed)) {
	now := u.Now().UTC()
	k := usageKey{tenant: tenant, cred: cred, app: app, minute: now.Unix() / 60}
	var h maphash.Hash
	h.SetSeed(u.seed)
	_, _ = h.WriteString(cred)
	_, _ = h.WriteString(app)
	s := &u.shards[h.Sum64()%usageShards]
	s.mu.Lock()
	c, ok := s.minutes[k]
	if !ok {
		c = &events.CredentialUsed{CredentialID: cred, AppID: app, Minute: now.Truncate(time.Minute), Instance: u.Instance}
		s.minutes[k] = c
	}
	f(c)
	s.mu.Unlock()
}

// maxSeries bounds the resolved series kept (past it they are resolved
// again).
const maxSeries = 65536

// outcome is the index in outcomes of an upstream answer's status.
func outcome(status int) int {
	switch {
	case status >= 500:
		return 3
	case status >= 400:
		return 2
	case status >= 300:
		return 1
	}
	return 0
}

// count records one proxied request.
func (u *Usage) count(tenant, cred, app string, status int, cl *call) {
	if u == nil {
		return
	}
	if cl.err != nil {
		u.failed(tenant, cred, app)
		return
	}
	u.request(cred, app, outcome(status)).Inc()
	in, out := cl.in.Load(), cl.out.Load()
	bin, bout := u.bytesOf(cred, app)
	bin.Add(float64(in))
	bout.Add(float64(out))
	u.add(tenant, cred, app, func(c *events.CredentialUsed) {
		c.Requests++
		if status >= 500 {
			c.Upstream5xx++
		}
		c.BytesIn += in
		c.BytesOut += out
	})
}

func (u *Usage) failed(tenant, cred, app string) {
	if u == nil {
		return
	}
	u.request(cred, app, outcomeRefused).Inc()
	u.add(tenant, cred, app, func(c *events.CredentialUsed) { c.Failed++ })
}

func (u *Usage) refreshed(tenant, cred, app string) {
	if u == nil {
		return
	}
	u.refreshes.WithLabelValues(cred, app).Inc()
	u.add(tenant, cred, app, func(c *events.CredentialUsed) { c.Refreshes++ })
}

func (u *Usage) exchanged(tenant, cred, app string) {
	if u == nil {
		return
	}
	u.exchanges.WithLabelValues(cred, app).Inc()
	u.add(tenant, cred, app, func(c *events.CredentialUsed) { c.Exchanges++ })
}

// Start implements the worker: the minute clock.
func (u *Usage) Start(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	u.cancel, u.done = cancel, make(chan struct{})
	go func() {
		defer close(u.done)
		for {
			now := u.Now()
			next := now.Truncate(time.Minute).Add(time.Minute + time.Second)
			t := time.NewTimer(next.Sub(now))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			u.flush(ctx, false)
		}
	}()
	return nil
}

// Close stops the clock and writes every count, the current minute's
// too (a later flush of the same minute on this instance is another
// event of that aggregate: the counts add up).
func (u *Usage) Close() error {
	if u.cancel != nil {
		u.cancel()
		<-u.done
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u.flush(ctx, true)
	return nil
}

// flush appends the counts of ended minutes (all: also the current one).
func (u *Usage) flush(ctx context.Context, all bool) {
	current := u.Now().UTC().Unix() / 60
	var out []usageKey
	var counts []*events.CredentialUsed
	for i := range u.shards {
		s := &u.shards[i]
		s.mu.Lock()
		for k, c := range s.minutes {
			if all || k.minute < current {
				out, counts = append(out, k), append(counts, c)
				delete(s.minutes, k)
			}
		}
		s.mu.Unlock()
	}
	for i, c := range counts {
		id := c.CredentialID + "/" + c.AppID + "/" + strconv.FormatInt(c.Minute.Unix(), 10) + "/" + c.Instance
		ev, err := events.New(events.Ref{Tenant: out[i].tenant, Type: events.AggCredentialUsage, ID: id}, events.System, u.Now(), c)
		if err == nil {
			_, err = u.Commit(ctx, ev)
		}
		if err != nil {
			u.Logger.Warn("proxy: writing credential use", "credential", c.CredentialID, "app", c.AppID, "err", err)
		}
	}
}
