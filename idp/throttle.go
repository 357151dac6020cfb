package idp

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/httpapi"
)

// maxThrottled bounds the throttle's table (invariant 8): past it the
// oldest windows are dropped first.
const maxThrottled = 65536

// throttle counts failed logins per account (tenant and e-mail) and per
// source address in fixed windows; past the budget a login is refused
// before its password is checked, with the one generic message.
type throttle struct {
	mu      sync.Mutex
	limit   int
	window  time.Duration
	now     func() time.Time
	entries map[string]*window
	refused prometheus.Counter
	failed  prometheus.Counter
}

type window struct {
	start time.Time
	n     int
}

func newThrottle(limit int, w time.Duration, now func() time.Time, reg prometheus.Registerer) *throttle {
	t := &throttle{limit: limit, window: w, now: now, entries: map[string]*window{}}
	t.refused = httpapi.RegisterCollector(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gatehouse", Subsystem: "idp", Name: "login_throttled_total",
		Help: "Logins refused because their account or address failed too often in the window (GATEHOUSE_LOGIN_FAILURES per GATEHOUSE_LOGIN_WINDOW).",
	}))
	t.failed = httpapi.RegisterCollector(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gatehouse", Subsystem: "idp", Name: "login_failures_total",
		Help: "Failed logins (unknown e-mail or wrong password alike).",
	}))
	return t
}

func (t *throttle) get(key string, now time.Time) *window {
	w := t.entries[key]
	if w == nil || now.Sub(w.start) >= t.window {
		if w == nil && len(t.entries) >= maxThrottled {
			t.sweep(now)
		}
		w = &window{start: now}
		t.entries[key] = w
	}
	return w
}

// sweep drops expired windows, or all when none has expired.
func (t *throttle) sweep(now time.Time) {
	for k, w := range t.entries {
		if now.Sub(w.start) >= t.window {
			delete(t.entries, k)
		}
	}
	if len(t.entries) >= maxThrottled {
		clear(t.entries)
	}
}

// allowed reports whether a login for account from addr may be tried.
func (t *throttle) allowed(account, addr string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if t.get("a:"+account, now).n >= t.limit || t.get("ip:"+addr, now).n >= t.limit {
		t.refused.Inc()
		return false
	}
	return true
}

// fail records a failed login.
func (t *throttle) fail(account, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	t.get("a:"+account, now).n++
	t.get("ip:"+addr, now).n++
	t.failed.Inc()
}
