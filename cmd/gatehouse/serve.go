package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/httpapi"
)

// runServe is `gatehouse serve`.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(args, os.LookupEnv)
	if errors.Is(err, errHelp) {
		printServeHelp(stdout)
		return nil
	}
	if err != nil {
		return err
	}
	stopPprof, err := startDebugPprof(os.Getenv(debugPprofEnv), stderr)
	if err != nil {
		return err
	}
	defer stopPprof()
	return serve(ctx, cfg, stdout, stderr)
}

func printServeHelp(w io.Writer) {
	fmt.Fprint(w, "Usage: gatehouse serve [flags]\n\n"+
		"Runs the server until SIGINT or SIGTERM, then drains in-flight requests.\n"+
		"Every flag has a GATEHOUSE_* environment variable; a flag wins over it.\n\nFlags:\n")
	printConfigHelp(w)
}

// server is what serve opens before it listens.
type server struct {
	events *eventLog
	comps  *components
	router *echo.Echo
}

// serve runs the server until ctx is done, then shuts it down: it stops
// accepting connections, lets in-flight requests finish within
// ShutdownTimeout, stops the workers, closes NATS and stops the embedded
// server. It writes a banner to stdout and JSON logs to stderr.
func serve(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	cfg.Issuer = issuerOf(cfg.Issuer, ln.Addr(), log)
	s, err := open(ctx, cfg, log, stdout)
	if err != nil {
		ln.Close()
		return err
	}
	defer s.events.Close()
	if err := s.comps.start(context.WithoutCancel(ctx)); err != nil {
		ln.Close()
		return err
	}
	printBanner(stdout, ln.Addr(), cfg, s.events)
	log.Info("gatehouse started", slog.String("version", version), slog.String("addr", ln.Addr().String()),
		slog.String("issuer", cfg.Issuer), slog.String("data_dir", cfg.DataDir))
	err = serveHTTP(ctx, s.router, ln, cfg.ShutdownTimeout, log)
	err = errors.Join(err, s.comps.close())
	log.Info("gatehouse stopped")
	return err
}

// open prepares everything but the listener: the data directory, the
// master key, the event log, the components and the router.
func open(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer) (*server, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	keys, err := loadKeys(cfg, log)
	if err != nil {
		return nil, err
	}
	el, err := openEventLog(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	d := deps{Config: cfg, Logger: log, Log: el.JetStream, NATS: el.nc, Keys: keys, Metrics: reg, Stdout: stdout, Now: time.Now}
	comps, err := buildComponents(ctx, d)
	if err != nil {
		el.Close()
		return nil, err
	}
	return &server{events: el, comps: comps, router: newRouter(log, reg, el, comps)}, nil
}

// newRouter is authz's plumbing, the "log" readiness check, and the
// components' checks and routes.
func newRouter(log *slog.Logger, reg *prometheus.Registry, el *eventLog, c *components) *echo.Echo {
	ready := append([]httpapi.ReadinessCheck{{Name: "log", Check: el.ready}}, c.Ready...)
	e := httpapi.NewEcho(httpapi.Options{Logger: log, Registry: reg, Ready: ready})
	for _, add := range c.Routes {
		add(e)
	}
	return e
}

// serveHTTP serves h on ln until ctx is done, then shuts down gracefully
// within grace. It returns nil after a clean shutdown.
func serveHTTP(ctx context.Context, h http.Handler, ln net.Listener, grace time.Duration, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", slog.String("within", grace.String()))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		<-served
		return fmt.Errorf("shutdown: requests still in flight after %s were cut off", grace)
	}
	<-served // http.ErrServerClosed
	return nil
}

// issuerOf is the configured issuer, or, when none is set, the base URL
// of the listening address (API.md "Operations": an unset issuer follows
// the listen address). On a wildcard address the derived issuer names
// loopback, which only local clients reach: that is logged as a warning.
func issuerOf(configured string, addr net.Addr, log *slog.Logger) string {
	if configured != "" {
		return configured
	}
	iss := baseURL(addr)
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		log.Warn("GATEHOUSE_ISSUER is not set and the server listens on every interface: the issuer is "+iss+
			", which remote clients cannot reach; set GATEHOUSE_ISSUER to the public URL", slog.String("issuer", iss))
	}
	return iss
}

// printBanner tells the operator where the server is.
func printBanner(w io.Writer, addr net.Addr, cfg Config, el *eventLog) {
	projs := "in memory, rebuilt from the log at start"
	if cfg.DatabaseURL != "" {
		projs = "PostgreSQL, schema " + cfg.DatabaseSchema
	}
	fmt.Fprintf(w, "gatehouse %s listening on %s\n  issuer:    %s\n  data dir:  %s\n  event log: %s\n  projections: %s\n",
		version, baseURL(addr), cfg.Issuer, cfg.DataDir, el.describe(cfg), projs)
}

// baseURL is the http URL of a listening address, on loopback when it
// listens on every interface.
func baseURL(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}
