package proxy

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
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

	mu      sync.Mutex
	minutes map[usageKey]*events.CredentialUsed
	cancel  context.CancelFunc
	done    chan struct{}
}

type usageKey struct {
	tenant, cred, app string
	minute            int64
}

// NewUsage returns the counters, registered on reg (nil: unregistered).
func NewUsage(reg prometheus.Registerer, commit func(context.Context, events.Event) (uint64, error), instance string, now func() time.Time, log *slog.Logger) *Usage {
	u := &Usage{Commit: commit, Instance: instance, Now: now, Logger: log, minutes: map[usageKey]*events.CredentialUsed{}}
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
	u.mu.Lock()
	c, ok := u.minutes[k]
	if !ok {
		c = &events.CredentialUsed{CredentialID: cred, AppID: app, Minute: now.Truncate(time.Minute), Instance: u.Instance}
		u.minutes[k] = c
	}
	f(c)
	u.mu.Unlock()
}

func outcome(status int) string {
	switch {
	case status >= 500:
		return "5xx"
	case status >= 400:
		return "4xx"
	case status >= 300:
		return "3xx"
	}
	return "2xx"
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
	u.requests.WithLabelValues(cred, app, outcome(status)).Inc()
	in, out := cl.in.Load(), cl.out.Load()
	u.bytes.WithLabelValues(cred, app, "in").Add(float64(in))
	u.bytes.WithLabelValues(cred, app, "out").Add(float64(out))
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
	u.requests.WithLabelValues(cred, app, "refused").Inc()
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
	u.mu.Lock()
	var out []usageKey
	var counts []*events.CredentialUsed
	for k, c := range u.minutes {
		if all || k.minute < current {
			out, counts = append(out, k), append(counts, c)
			delete(u.minutes, k)
		}
	}
	u.mu.Unlock()
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
