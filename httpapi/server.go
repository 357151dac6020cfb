package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// DefaultBodyLimit is the largest request body the server reads (API.md
// "Conventions": above 1 MiB is 413).
const DefaultBodyLimit = 1 << 20

// Options configures NewEcho. The zero value works: no log output, a fresh
// metrics registry, no readiness checks.
type Options struct {
	// Logger receives errors (level error), and the access log (level
	// debug). Default: discard.
	Logger *slog.Logger
	// Registry receives the HTTP metrics and the Go and process collectors,
	// and is what GET /metrics serves. Default: a new registry.
	Registry *prometheus.Registry
	// Ready lists what GET /readyz checks, in order.
	Ready []ReadinessCheck
	// ReadyTimeout bounds each readiness check. Default 2s.
	ReadyTimeout time.Duration
	// BodyLimit is the largest request body in bytes. Default
	// DefaultBodyLimit.
	BodyLimit int64
	// Streamed are path prefixes whose handlers stream request bodies and
	// bound them themselves (the credential proxy): BodyLimit does not
	// apply there.
	Streamed []string
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 2 * time.Second
	}
	if o.BodyLimit <= 0 {
		o.BodyLimit = DefaultBodyLimit
	}
	return o
}

// NewEcho returns the HTTP server's router with the plumbing every
// endpoint shares: X-Request-Id, panic recovery, the body limit, metrics,
// the debug access log, problem+json errors, and GET /healthz, /readyz and
// /metrics. Callers add their routes to it.
func NewEcho(opts Options) *echo.Echo {
	opts = opts.withDefaults()
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn).Writer())
	e.HTTPErrorHandler = errorHandler(opts.Logger)
	e.Use(edge(opts.Logger, newHTTPMetrics(opts.Registry), opts.BodyLimit, opts.Streamed))
	registerRuntimeCollectors(opts.Registry)
	h := &health{checks: opts.Ready, timeout: opts.ReadyTimeout}
	GetAndHead(e, "/healthz", h.healthz)
	e.GET("/readyz", h.readyz)
	e.GET("/metrics", metricsHandler(opts.Registry))
	return e
}

// errorHandler writes every error a handler or middleware returns as a
// problem document (API.md "Conventions"). Errors that are not a *Problem
// become one: see problemOf.
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		p := ProblemOf(err)
		logProblem(c, log, p)
		if c.Response().Committed {
			return
		}
		if werr := writeProblem(c, p); werr != nil {
			log.Debug("write problem", "request_id", RequestID(c), "error", werr)
		}
	}
}

// ProblemOf maps err to the problem written for it: a *Problem as is,
// echo's own errors (no route, wrong method, body too large) by status, an
// unreachable log as 503, anything else as 500 with err as the cause.
func ProblemOf(err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return PayloadTooLarge(mbe.Limit)
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return fromEcho(he)
	}
	var stale *command.StaleError
	if errors.As(err, &stale) {
		return PreconditionFailed(stale.Error())
	}
	if errors.Is(err, command.ErrContended) {
		return Conflict("the resource changed concurrently on every try; try again").AsRetry().WithCause(err)
	}
	if IsUnavailable(err) {
		return Unavailable(5*time.Second, err)
	}
	return Internal(err)
}

// IsUnavailable reports whether err says the event log or the
// projections' store cannot be reached (events.ErrUnavailable,
// projections.ErrUnavailable): the server's state, not the request's
// fault, answered 503 (here and by the OAuth endpoints' error writer).
func IsUnavailable(err error) bool {
	return errors.Is(err, events.ErrUnavailable) || errors.Is(err, projections.ErrUnavailable)
}

// fromEcho maps an *echo.HTTPError, raised by echo's router and middleware
// or by echo.Context helpers, to a problem.
func fromEcho(he *echo.HTTPError) *Problem {
	if inner, ok := he.Internal.(*echo.HTTPError); ok {
		he = inner
	}
	msg, _ := he.Message.(string)
	switch he.Code {
	case http.StatusNotFound:
		return NotFound("")
	case http.StatusMethodNotAllowed:
		return NewProblem(CodeMethodNotAllowed, "this resource does not answer that method")
	case http.StatusRequestEntityTooLarge:
		return PayloadTooLarge(DefaultBodyLimit)
	case http.StatusUnsupportedMediaType:
		return UnsupportedMediaType(msg)
	case http.StatusUnauthorized:
		return Unauthorized(msg)
	case http.StatusForbidden:
		return Forbidden(msg)
	case http.StatusTooManyRequests:
		return RateLimited(time.Second)
	case http.StatusServiceUnavailable:
		return Unavailable(5*time.Second, he)
	}
	if he.Code >= 400 && he.Code < 500 {
		return BadRequest(msg)
	}
	return Internal(he)
}

// logProblem logs 5xx problems at error level with their cause; 4xx are
// the caller's business and appear only in the debug access log.
func logProblem(c echo.Context, log *slog.Logger, p *Problem) {
	logFailure(c.Request(), log, c.Path(), RequestID(c), p)
}

// logFailure logs p, the answer to r (served under route), at error
// level when it is the server's fault (500 on).
func logFailure(r *http.Request, log *slog.Logger, route, requestID string, p *Problem) {
	if p.Status < 500 {
		return
	}
	log.LogAttrs(r.Context(), slog.LevelError, "request failed",
		slog.String("request_id", requestID),
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.Int("status", p.Status),
		slog.String("error", p.Error()))
}

// public is p as answered: a 500 always carries the fixed detail of
// Internal, whatever the handler put in it, so no internals leak.
func public(p *Problem) *Problem {
	if p.Status == http.StatusInternalServerError {
		return Internal(nil)
	}
	return p
}

// writeProblem sends p as answered (public).
func writeProblem(c echo.Context, p *Problem) error {
	p = public(p)
	p.header(c.Response().Header())
	if c.Request().Method == http.MethodHead {
		return c.NoContent(p.Status)
	}
	return c.JSON(p.Status, p)
}

// WriteProblem answers err on w as the error handler answers a handler's
// error (ProblemOf, a 500 with the fixed detail, logged at error level
// from 500 on), for a request served outside echo (the credential
// proxy's connections, package proxy). It returns the status written.
func WriteProblem(w http.ResponseWriter, r *http.Request, log *slog.Logger, route, requestID string, err error) int {
	p := ProblemOf(err)
	logFailure(r, log, route, requestID, p)
	p = public(p)
	p.header(w.Header())
	body, merr := json.Marshal(p)
	if merr != nil {
		body = nil
	}
	body = append(body, '\n') // as echo's JSON answers end
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(p.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return p.Status
}

// ReadinessCheck is one condition of GET /readyz: Check returns nil when
// the condition holds. Name appears in the 503 answer; the error is logged.
type ReadinessCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// GetAndHead routes GET and HEAD of path to h, through m: HEAD answers as
// GET without the body (RFC 9110 §9.3.2), which net/http discards for it.
func GetAndHead(e *echo.Echo, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	e.Match([]string{http.MethodGet, http.MethodHead}, path, h, m...)
}

// AnyOrigin lets a script of any origin read the answer (the Fetch
// standard's CORS protocol, without credentials): for public documents,
// the discovery documents and the JWKS, which browser apps fetch.
func AnyOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Access-Control-Allow-Origin", "*")
		return next(c)
	}
}
