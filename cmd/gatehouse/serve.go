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

	"github.com/gatehouse/gatehouse/server"
)

// runServe is `gatehouse serve`.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := server.LoadConfig(args, os.LookupEnv)
	if errors.Is(err, server.ErrHelp) {
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
	printHelp(w, "serve")
	server.PrintConfigHelp(w)
}

// serve runs the server until ctx is done, then shuts it down: it stops
// accepting connections, lets in-flight requests finish within
// ShutdownTimeout, stops the workers, closes NATS and stops the embedded
// server. It writes a banner to stdout and JSON logs to stderr.
func serve(ctx context.Context, cfg server.Config, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	cfg.Issuer = issuerOf(cfg.Issuer, ln.Addr(), log)
	s, err := server.Build(ctx, cfg, server.Options{Logger: log, Stdout: stdout})
	if err != nil {
		ln.Close()
		return err
	}
	debugRetention.Store(s.Store()) // what GET /debug/retention shows
	if err := s.Start(context.WithoutCancel(ctx)); err != nil {
		ln.Close()
		return err
	}
	printBanner(stdout, ln.Addr(), cfg, s.Events)
	log.Info("gatehouse started", slog.String("version", version), slog.String("addr", ln.Addr().String()),
		slog.String("issuer", cfg.Issuer), slog.String("data_dir", cfg.DataDir))
	err = serveHTTP(ctx, s.Handler(), ln, cfg.ShutdownTimeout, log, s)
	err = errors.Join(err, s.Close())
	log.Info("gatehouse stopped")
	return err
}

// attacher serves connections beside the router (server.Server: the
// credential proxy's lane): attached to the HTTP server before it
// serves, drained after its Shutdown.
type attacher interface {
	Attach(*http.Server)
	Drain(context.Context) error
}

// serveHTTP serves h on ln until ctx is done, then shuts down gracefully
// within grace (att, if not nil, attached and drained with it). It
// returns nil after a clean shutdown.
func serveHTTP(ctx context.Context, h http.Handler, ln net.Listener, grace time.Duration, log *slog.Logger, att attacher) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if att != nil {
		att.Attach(srv)
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
	err := srv.Shutdown(sctx)
	if att != nil {
		err = errors.Join(err, att.Drain(sctx))
	}
	if err != nil {
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
func printBanner(w io.Writer, addr net.Addr, cfg server.Config, el *server.EventLog) {
	projs := "in memory, rebuilt from the log at start"
	if cfg.DatabaseURL != "" {
		projs = "PostgreSQL, schema " + cfg.DatabaseSchema
	}
	fmt.Fprintf(w, "gatehouse %s listening on %s\n  issuer:    %s\n  data dir:  %s\n  event log: %s\n  projections: %s\n",
		version, baseURL(addr), cfg.Issuer, cfg.DataDir, el.Describe(cfg), projs)
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
