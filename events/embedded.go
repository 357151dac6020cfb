package events

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedConfig configures the in-process NATS server of single-node mode.
type EmbeddedConfig struct {
	// Dir holds the JetStream store (Dir/jetstream).
	Dir string
	// Listen, when set ("127.0.0.1:4222", or "127.0.0.1:-1" for a free
	// port), also serves NATS clients over TCP; otherwise the server takes
	// in-process connections only.
	Listen string
	// ReadyTimeout bounds the start. Default 10s.
	ReadyTimeout time.Duration
}

// Embedded is an in-process NATS server with JetStream whose store syncs
// every write to disk before acknowledging it, so an acknowledged append
// survives a kill -9 or a power cut of the process.
type Embedded struct {
	srv  *server.Server
	lock *os.File
}

// lockName is the file in the store's directory that the process running
// an embedded server on it holds an exclusive lock on: two servers on one
// store would corrupt it.
const lockName = "gatehouse.lock"

// errLocked is lockFile's answer when another process holds the lock.
var errLocked = errors.New("events: lock held by another process")

// lockDir takes the exclusive lock of dir, or says who may hold it.
func lockDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("events: embedded NATS: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("events: embedded NATS: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("events: the data directory %s is in use by another process (a running server?): its event store can have one embedded NATS server only", dir)
		}
		return nil, fmt.Errorf("events: lock %s: %w", dir, err)
	}
	return f, nil
}

// StartEmbedded starts the server and waits until it accepts connections.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if cfg.Dir == "" {
		return nil, errors.New("events: embedded NATS needs a data directory")
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	opts := &server.Options{
		ServerName:         "gatehouse-embedded",
		JetStream:          true,
		StoreDir:           cfg.Dir, // the server keeps its store in StoreDir/jetstream
		SyncAlways:         true,
		SyncInterval:       2 * time.Minute,
		DontListen:         cfg.Listen == "",
		NoSigs:             true,
		MaxPayload:         8 << 20,
		JetStreamMaxMemory: 256 << 20,
		JetStreamLimits: server.JSLimitOpts{
			MaxBatchInflightPerStream: 1000,
			MaxBatchInflightTotal:     4000,
		},
	}
	if cfg.Listen != "" {
		host, port, err := splitHostPort(cfg.Listen)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("events: embedded NATS: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(cfg.ReadyTimeout) {
		srv.Shutdown()
		lock.Close()
		return nil, fmt.Errorf("events: embedded NATS not ready within %s", cfg.ReadyTimeout)
	}
	return &Embedded{srv: srv, lock: lock}, nil
}

// Connect opens a client connection to the embedded server (in-process
// when it does not listen on TCP).
func (e *Embedded) Connect(opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.InProcessServer(e.srv), nats.Name("gatehouse")}, opts...)
	return nats.Connect("", opts...)
}

// ClientURL is the TCP URL of the server, empty when it does not listen.
func (e *Embedded) ClientURL() string {
	if e.srv.Addr() == nil {
		return ""
	}
	return e.srv.ClientURL()
}

// Shutdown stops the server after flushing its store.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	if e.lock != nil {
		e.lock.Close() // releases the lock
		e.lock = nil
	}
}

func splitHostPort(hp string) (string, int, error) {
	host, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, fmt.Errorf("events: listen address %q: %w", hp, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("events: listen address %q: bad port", hp)
	}
	return host, port, nil
}
