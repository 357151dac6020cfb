package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/proxy"
)

// Options are what Build takes besides the Config: where the server
// writes, and its clock.
type Options struct {
	// Logger gets the server's logs; nil discards them.
	Logger *slog.Logger
	// Stdout is for what an operator must see once (generated bootstrap
	// credentials, the first-token hint); nil discards it.
	Stdout io.Writer
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Server is what Build makes before the listener: the event log, the
// components (workers, routes, readiness checks) and the router. Start
// starts the workers, Handler serves HTTP, Close stops everything.
type Server struct {
	// Events is the open event log (and the NATS it runs on).
	Events *EventLog
	// Comps is the wiring's components.
	Comps *Components
	// Router is the HTTP handler: authz's plumbing and every route.
	Router *echo.Echo
}

// Build prepares everything but the listener: the data directory, the
// master key, the event log, the projections' store, the components and
// the router. Nothing runs until Start.
func Build(ctx context.Context, cfg Config, o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	keys, err := LoadKeys(cfg, o.Logger)
	if err != nil {
		return nil, err
	}
	el, err := OpenEventLog(ctx, cfg, o.Logger)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	d := deps{Config: cfg, Logger: o.Logger, Log: el.JetStream, NATS: el.nc, Keys: keys, Metrics: reg, Stdout: o.Stdout, Now: o.Now}
	comps, err := buildComponents(ctx, d)
	if err != nil {
		el.Close()
		return nil, err
	}
	return &Server{Events: el, Comps: comps, Router: newRouter(o.Logger, reg, el, comps)}, nil
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.Router }

// Attach prepares srv, the HTTP server serving Handler, for what serves
// connections outside the router: the credential proxy's lane
// (proxy.Lane), which takes the proxy's HTTP/1.1 connections and hands
// back what it does not serve. Without it every request goes through the
// router. Call it before srv serves, and Drain after srv's Shutdown.
func (s *Server) Attach(srv *http.Server) {
	if s.Comps.Lane != nil {
		s.Comps.Lane.Attach(srv)
	}
}

// Drain waits, until ctx ends, for the connections Attach's lane took
// (srv's Shutdown does not track them); at ctx's end it closes them.
func (s *Server) Drain(ctx context.Context) error {
	if s.Comps.Lane == nil {
		return nil
	}
	return s.Comps.Lane.Wait(ctx)
}

// Store is the projections' store.
func (s *Server) Store() projections.Reader { return s.Comps.Store }

// Start starts the workers in order (group committers, projector,
// bootstrap, key rotator, webhook dispatcher, clock ticker). ctx bounds
// the start only. On a failure everything Build opened is closed.
func (s *Server) Start(ctx context.Context) error {
	if err := s.Comps.Start(ctx); err != nil {
		s.Events.Close()
		return err
	}
	return nil
}

// Close stops the workers (last started first), closes the store, then
// the event log. Call it after the HTTP server has drained.
func (s *Server) Close() error {
	err := s.Comps.Close()
	s.Events.Close()
	return err
}

// Discard closes what Build opened, for a Server that was never started.
func (s *Server) Discard() error {
	err := s.Comps.runClosers()
	s.Events.Close()
	return err
}

// newRouter is authz's plumbing, the "log" readiness check, and the
// components' checks and routes.
func newRouter(log *slog.Logger, reg *prometheus.Registry, el *EventLog, c *Components) *echo.Echo {
	ready := append([]httpapi.ReadinessCheck{{Name: "log", Check: el.ready}}, c.Ready...)
	e := httpapi.NewEcho(httpapi.Options{Logger: log, Registry: reg, Ready: ready, Streamed: []string{proxy.PathPrefix}})
	for _, add := range c.Routes {
		add(e)
	}
	return e
}
