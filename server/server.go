package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/authz"
)

// Server is what Open builds before the listener: the event log, the
// components and the router.
type Server struct {
	Events *EventLog
	Comps  *Components
	Router *echo.Echo
}

// Open prepares everything but the listener: the data directory, the
// master key, the event log, the components and the router.
func Open(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer) (*Server, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	keys, err := LoadKeys(cfg, log)
	if err != nil {
		return nil, err
	}
	el, err := OpenEventLog(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	d := Deps{Config: cfg, Logger: log, Log: el.JetStream, NATS: el.NC, Keys: keys, Metrics: reg, Stdout: stdout, Now: time.Now}
	comps, err := Build(ctx, d)
	if err != nil {
		el.Close()
		return nil, err
	}
	return &Server{Events: el, Comps: comps, Router: newRouter(log, reg, el, comps)}, nil
}

// newRouter is authz's plumbing, the "log" readiness check, and the
// components' checks and routes.
func newRouter(log *slog.Logger, reg *prometheus.Registry, el *EventLog, c *Components) *echo.Echo {
	ready := append([]authz.ReadinessCheck{{Name: "log", Check: el.ready}}, c.Ready...)
	e := authz.NewEcho(authz.Options{Logger: log, Registry: reg, Ready: ready})
	for _, add := range c.Routes {
		add(e)
	}
	return e
}
