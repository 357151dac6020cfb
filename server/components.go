package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/jwks"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/sealing"
	"github.com/gatehouse/gatehouse/vault"
	"github.com/gatehouse/gatehouse/webhooks"
)

// deps is what the server's components are built from. Build owns every
// field: components must not close Log or NATS.
type deps struct {
	Config Config
	Logger *slog.Logger
	// Log is the event log (an events.Log) on NATS.
	Log *events.JetStream
	// NATS is the connection Log runs on, for components that need more of
	// JetStream than the Log port (a KV bucket, a lock).
	NATS *nats.Conn
	// Keys derives every key from the master key (package sealing).
	Keys *sealing.Keys
	// Metrics is the registry GET /metrics serves; components register
	// their own collectors on it.
	Metrics *prometheus.Registry
	// Stdout is for what an operator must see once, such as generated
	// bootstrap credentials.
	Stdout io.Writer
	Now    func() time.Time
}

// worker is a background component with a lifecycle: Start launches its
// goroutines and returns; Close stops them and waits for them. The ctx of
// Start is not cancelled at shutdown (in-flight requests may still wait on
// a projection while HTTP drains): Close is how a worker is stopped.
type worker interface {
	Start(ctx context.Context) error
	Close() error
}

// components is what serve runs besides the HTTP plumbing of authz.NewEcho.
type Components struct {
	// Routes add endpoints to the router, in order.
	Routes []func(e *echo.Echo)
	// Ready are readiness checks of GET /readyz, after the built-in "log".
	Ready []httpapi.ReadinessCheck
	// Workers are started in order before the server listens, and closed
	// in reverse order after it has drained.
	Workers []worker
	// Closers run last, in reverse order (flush pending appends, close
	// stores).
	Closers []func() error
	// Store is the projections' store (what GET /debug/retention reads).
	Store projections.Reader
	// OAuth is the OAuth server (its one mint path, for tests through
	// servertest).
	OAuth *oauth.Server
	// Lane serves the credential proxy's connections outside the router
	// once attached to the HTTP server (Server.Attach).
	Lane *proxy.Lane
}

// start starts the workers in order. On a failure it closes those already
// started, runs the closers, and returns the error.
func (c *Components) Start(ctx context.Context) error {
	for i, w := range c.Workers {
		if err := w.Start(ctx); err != nil {
			return errors.Join(fmt.Errorf("start %T: %w", w, err), c.closeWorkers(i), c.runClosers())
		}
	}
	return nil
}

// closeWorkers closes the first n workers, last first.
func (c *Components) closeWorkers(n int) error {
	var errs []error
	for _, w := range slices.Backward(c.Workers[:n]) {
		if err := w.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %T: %w", w, err))
		}
	}
	return errors.Join(errs...)
}

// close closes every worker, then runs the closers.
func (c *Components) Close() error {
	return errors.Join(c.closeWorkers(len(c.Workers)), c.runClosers())
}

// runClosers runs the closers, last first.
func (c *Components) runClosers() error {
	var errs []error
	for _, f := range slices.Backward(c.Closers) {
		errs = append(errs, f())
	}
	return errors.Join(errs...)
}

// Every background component is a worker as it is: no adapters.
var (
	_ worker = (*events.GroupCommitter)(nil)
	_ worker = (*webhooks.Dispatcher)(nil)
	_ worker = (*projections.Projector)(nil)
	_ worker = (*jwks.Rotator)(nil)
	_ worker = (*projections.ClockTicker)(nil)
	_ worker = (*bootstrapper)(nil)
	_ worker = (*vault.Refresher)(nil)
	_ worker = (*proxy.Usage)(nil)
)
