package httpapi

import (
	"github.com/prometheus/client_golang/prometheus"
)

// limit names what limited a request, the label of
// gatehouse_rate_limited_total.
type limit int

const (
	limitClient          limit = iota // an authenticated client's requests, OAuth endpoints
	limitPlatform                     // the same on the platform API
	limitClientFailures               // failed authentications of one client_id from one address
	limitAddressFailures              // failed authentications from one address
	limitCount
)

func (k limit) String() string {
	return [...]string{"client", "platform", "client_address_failures", "address_failures"}[k]
}

// limiterMetrics are the limiter's series: what it refused, the failed
// authentications it counted, its settings and how much it tracks.
type limiterMetrics struct {
	limited  [limitCount]prometheus.Counter
	failures *prometheus.CounterVec
}

// newLimiterMetrics registers the series on reg (none when nil).
func newLimiterMetrics(reg prometheus.Registerer, l *Limiter) limiterMetrics {
	if reg == nil {
		reg = prometheus.NewRegistry() // counted, not served
	}
	limited := RegisterCollector(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse", Subsystem: "rate", Name: "limited_total",
		Help: "Requests answered 429 by the abuse limits, by the limit that refused them.",
	}, []string{"limit"}))
	m := limiterMetrics{failures: RegisterCollector(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse", Subsystem: "auth", Name: "failures_total",
		Help: "Failed client or bearer-token authentications, by endpoint.",
	}, []string{"endpoint"}))}
	for k := range limitCount {
		m.limited[k] = limited.WithLabelValues(k.String())
	}
	registerLimitSettings(reg, l)
	return m
}

// registerLimitSettings exports the configured limits (API.md: "Limits
// are configurable and exported as metrics") and the tracked entries.
func registerLimitSettings(reg prometheus.Registerer, l *Limiter) {
	settings := RegisterCollector(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "gatehouse", Subsystem: "rate", Name: "limit",
		Help: "The configured abuse limits: client and platform in requests per second per client, failures and address_failures per window, window in seconds (0: no limit).",
	}, []string{"setting"}))
	settings.WithLabelValues("client").Set(l.cfg.Client)
	settings.WithLabelValues("platform").Set(l.cfg.Platform)
	settings.WithLabelValues("failures").Set(float64(l.cfg.Failures))
	settings.WithLabelValues("address_failures").Set(float64(l.cfg.AddressFailures))
	settings.WithLabelValues("window").Set(l.cfg.Window.Seconds())
	settings.WithLabelValues("exempt_clients").Set(float64(len(l.exempt)))
	RegisterCollector(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "gatehouse", Subsystem: "rate", Name: "tracked",
		Help: "Clients and source addresses the abuse limits currently track.",
	}, func() float64 { return float64(l.Tracked()) }))
}
