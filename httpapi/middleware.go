package httpapi

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HeaderRequestID carries the request id on every response (API.md
// "Conventions").
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds a caller's request id that is echoed back.
const maxRequestIDLen = 128

// RequestID returns the id of the request c answers: the caller's
// X-Request-Id when it was acceptable, else one the server generated.
func RequestID(c echo.Context) string {
	return c.Response().Header().Get(HeaderRequestID)
}

// setRequestID puts the request's id on the response.
func setRequestID(c echo.Context) {
	id := c.Request().Header.Get(HeaderRequestID)
	if !ValidRequestID(id) {
		id = rand.Text()
	}
	c.Response().Header().Set(HeaderRequestID, id)
}

// ValidRequestID admits 1 to 128 visible ASCII characters, so an echoed id
// can neither break a header nor forge a log line.
func ValidRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// edge is the middleware every request goes through, outermost first:
// observe, recoverPanic, limitBody. It is one middleware, not three:
// echo builds the chain of its Use middleware again for every request
// (one closure each).
func edge(log *slog.Logger, m *httpMetrics, limit int64, streamed []string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			return observe(c, log, m, func() error {
				return recoverPanic(c, log, func() error { return limitBody(c, limit, streamed, next) })
			})
		}
	}
}

// observe is the outermost step: it sets the request id, has the error
// handler write any error of next (so the final status is known), then
// records metrics and the debug access log.
func observe(c echo.Context, log *slog.Logger, m *httpMetrics, next func() error) error {
	start := time.Now()
	setRequestID(c)
	if err := next(); err != nil {
		c.Error(err)
	}
	if c.Get(hijackedKey) != nil {
		return nil // the handler took the connection: it observes what it serves
	}
	elapsed := time.Since(start)
	m.observe(c, elapsed)
	accessLog(c, log, elapsed)
	return nil
}

// accessLog logs one line per request at debug level; at info and above it
// costs one Enabled call.
func accessLog(c echo.Context, log *slog.Logger, elapsed time.Duration) {
	r := c.Request()
	if !log.Enabled(r.Context(), slog.LevelDebug) {
		return
	}
	logRequest(r.Context(), log, routeLabel(c), Observed{Method: r.Method, Path: r.URL.Path, Remote: r.RemoteAddr,
		RequestID: RequestID(c), Status: c.Response().Status, Size: c.Response().Size, Elapsed: elapsed})
}

// logRequest writes the access log's line of o, served under route.
func logRequest(ctx context.Context, log *slog.Logger, route string, o Observed) {
	log.LogAttrs(ctx, slog.LevelDebug, "http request",
		slog.String("request_id", o.RequestID),
		slog.String("method", o.Method),
		slog.String("path", o.Path),
		slog.String("route", route),
		slog.Int("status", o.Status),
		slog.Int64("bytes", o.Size),
		slog.Duration("duration", o.Elapsed),
		slog.String("remote", o.Remote))
}

// recoverPanic turns a panic of next into a 500 problem, logging the
// value and stack. http.ErrAbortHandler is re-raised: it asks net/http to
// abort the response.
func recoverPanic(c echo.Context, log *slog.Logger, next func() error) (err error) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		log.LogAttrs(c.Request().Context(), slog.LevelError, "handler panicked",
			slog.String("request_id", RequestID(c)),
			slog.Any("panic", v),
			slog.String("stack", string(debug.Stack())))
		err = Internal(fmt.Errorf("panic: %v", v))
	}()
	return next()
}

// limitBody answers 413 to a body declared longer than limit, and makes
// reads past limit fail with *http.MaxBytesError (which BindJSON and the
// error handler turn into 413). Paths under a streamed prefix bound their
// bodies themselves.
func limitBody(c echo.Context, limit int64, streamed []string, next echo.HandlerFunc) error {
	r := c.Request()
	for _, p := range streamed {
		if strings.HasPrefix(r.URL.Path, p) {
			return next(c)
		}
	}
	if r.ContentLength > limit {
		return PayloadTooLarge(limit)
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(c.Response().Writer, r.Body, limit)
	}
	return next(c)
}

// hijackedKey marks, in an echo context, a request whose handler took
// its connection (MarkHijacked).
const hijackedKey = "gatehouse.hijacked"

// MarkHijacked tells the edge that c's handler took the connection
// (http.Hijacker) and serves its requests itself, this one included: the
// edge then records no metrics and no access log line for c, which the
// handler records itself (RouteObserver).
func MarkHijacked(c echo.Context) { c.Set(hijackedKey, true) }

// NewRequestID is the id of a request served outside echo: the caller's
// X-Request-Id when acceptable (ValidRequestID), else a new one.
func NewRequestID(callers string) string {
	if ValidRequestID(callers) {
		return callers
	}
	return rand.Text()
}

// RouteObserver returns what the edge records for every request (the
// HTTP metrics on reg, the same series NewEcho registers there, and the
// debug access log), for the requests of route served outside echo.
func RouteObserver(reg prometheus.Registerer, log *slog.Logger, route string) func(o Observed) {
	m := newHTTPMetrics(reg)
	// The series of each method and status, resolved once (hashing the
	// labels was a hundredth of the proxy's time per request).
	type key struct {
		method string
		status int
	}
	type series struct {
		requests prometheus.Counter
		duration prometheus.Observer
	}
	var mu sync.Mutex
	resolved := map[key]series{}
	return func(o Observed) {
		k := key{o.Method, o.Status}
		mu.Lock()
		s, ok := resolved[k]
		if !ok {
			st := statusLabel(o.Status)
			s = series{m.requests.WithLabelValues(o.Method, route, st), m.duration.WithLabelValues(o.Method, route, st)}
			if len(resolved) < 4096 {
				resolved[k] = s
			}
		}
		mu.Unlock()
		s.requests.Inc()
		s.duration.Observe(o.Elapsed.Seconds())
		if log.Enabled(context.Background(), slog.LevelDebug) {
			logRequest(context.Background(), log, route, o)
		}
	}
}

// Observed is one request served outside echo, as RouteObserver records
// it.
type Observed struct {
	Method, Path, Remote, RequestID string
	Status                          int
	Size                            int64
	Elapsed                         time.Duration
}

// httpMetrics are the Prometheus series of the HTTP edge.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

var httpLabels = []string{"method", "route", "status"}

// latencyBuckets suit a server whose answers take well under a
// millisecond to a few seconds.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	return &httpMetrics{
		requests: RegisterCollector(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gatehouse", Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests answered, by method, route template and status.",
		}, httpLabels)),
		duration: RegisterCollector(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "gatehouse", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time to answer HTTP requests, by method, route template and status.",
			Buckets: latencyBuckets,
		}, httpLabels)),
	}
}

func (m *httpMetrics) observe(c echo.Context, elapsed time.Duration) {
	method, route, status := c.Request().Method, routeLabel(c), statusLabel(c.Response().Status)
	m.requests.WithLabelValues(method, route, status).Inc()
	m.duration.WithLabelValues(method, route, status).Observe(elapsed.Seconds())
}

// routeLabel is the route template ("/v1/platform/apps/:id"), never the
// raw path, so the label's values stay few.
func routeLabel(c echo.Context) string {
	if p := c.Path(); p != "" {
		return p
	}
	return "unmatched"
}

var statusLabels = func() (s [600]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusLabel(code int) string {
	if code >= 0 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}

// RegisterCollector adds c to reg, or returns the equal collector reg already has
// (a second NewEcho on one registry shares its series).
func RegisterCollector[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(fmt.Sprintf("httpapi: register metrics: %v", err))
}

// registerRuntimeCollectors adds the Go runtime and process collectors to
// reg unless it has them already.
func registerRuntimeCollectors(reg prometheus.Registerer) {
	RegisterCollector(reg, collectors.NewGoCollector())
	RegisterCollector(reg, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// metricsHandler serves reg in the Prometheus exposition format.
func metricsHandler(reg *prometheus.Registry) echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      reg,
	}))
}
