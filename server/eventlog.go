package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gatehouse/gatehouse/events"
)

// eventLog is the open event log and the NATS connection (and, in
// single-node mode, the embedded server) it runs on.
type EventLog struct {
	*events.JetStream
	nc  *nats.Conn
	emb *events.Embedded // nil with GATEHOUSE_NATS_URL
}

// openEventLog connects to NATS (GATEHOUSE_NATS_URL, or an embedded
// JetStream server in the data directory) and opens the log's streams.
func OpenEventLog(ctx context.Context, cfg Config, log *slog.Logger) (*EventLog, error) {
	l := &EventLog{}
	var err error
	if cfg.NATSURL == "" {
		l.nc, l.emb, err = connectEmbedded(cfg.DataDir, log)
	} else {
		l.nc, err = connectRemote(cfg, log)
	}
	if err != nil {
		return nil, err
	}
	l.JetStream, err = events.Open(ctx, l.nc, events.Config{Prefix: cfg.StreamPrefix, Replicas: cfg.NATSReplicas, HighVolumeMaxAge: cfg.HighVolumeMaxAge})
	if err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// connectEmbedded starts the embedded server with its store in dir and
// connects to it in-process.
func connectEmbedded(dir string, log *slog.Logger) (*nats.Conn, *events.Embedded, error) {
	emb, err := events.StartEmbedded(events.EmbeddedConfig{Dir: dir})
	if err != nil {
		return nil, nil, err
	}
	nc, err := emb.Connect(connectionHandlers(log)...)
	if err != nil {
		emb.Shutdown()
		return nil, nil, fmt.Errorf("connect to the embedded NATS server: %w", err)
	}
	return nc, emb, nil
}

// connectRemote connects to the NATS servers of GATEHOUSE_NATS_URL, with
// its credentials file and TLS settings. The first connection must
// succeed; after that the client reconnects forever (while it is away,
// appends answer 503 unavailable), buffering nothing: an append either
// reaches the server or fails.
func connectRemote(cfg Config, log *slog.Logger) (*nats.Conn, error) {
	opts := append(connectionHandlers(log),
		nats.Name("gatehouse"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectBufSize(-1),
		nats.Timeout(5*time.Second))
	if cfg.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(cfg.NATSCreds))
	}
	if cfg.NATSTLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.NATSTLSCA))
	}
	if cfg.NATSTLSCert != "" {
		opts = append(opts, nats.ClientCert(cfg.NATSTLSCert, cfg.NATSTLSKey))
	}
	nc, err := nats.Connect(cfg.NATSURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", cfg.NATSURL, err)
	}
	return nc, nil
}

// connectionHandlers log the connection's losses and recoveries.
func connectionHandlers(log *slog.Logger) []nats.Option {
	return []nats.Option{
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS connection lost; reconnecting", slog.String("error", err.Error()))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("NATS connection restored", slog.String("server", nc.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("NATS error", slog.String("error", err.Error()))
		}),
	}
}

// ready is the "log" readiness check: connected, JetStream answers, and
// every stream takes writes (a log that only reads would fail every mint).
func (l *EventLog) ready(ctx context.Context) error {
	if !l.nc.IsConnected() {
		return fmt.Errorf("NATS connection is %s", l.nc.Status())
	}
	if _, err := l.LastSeq(ctx, events.Control); err != nil {
		return err
	}
	return l.Writable(ctx)
}

// describe says where the log lives, for the banner.
func (l *EventLog) Describe(cfg Config) string {
	if l.emb != nil {
		return "embedded NATS JetStream in " + cfg.DataDir
	}
	return "NATS at " + l.nc.ConnectedUrlRedacted()
}

// Close closes the connection, then stops the embedded server.
func (l *EventLog) Close() {
	if l.nc != nil {
		l.nc.Close()
	}
	if l.emb != nil {
		l.emb.Shutdown()
	}
}
