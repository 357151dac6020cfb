package events

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"
)

// TestEmbeddedSyncsAlways pins the durability setting of single-node mode:
// the store syncs every write before the server acknowledges it.
func TestEmbeddedSyncsAlways(t *testing.T) {
	dir := t.TempDir()
	e, err := StartEmbedded(EmbeddedConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	cfg := e.srv.JetStreamConfig()
	if cfg == nil || !cfg.SyncAlways || cfg.StoreDir != filepath.Join(dir, "jetstream") {
		t.Fatalf("JetStream config %+v, want SyncAlways and the store in %s", cfg, filepath.Join(dir, "jetstream"))
	}
	if url := e.ClientURL(); url != "" {
		t.Fatalf("ClientURL = %q without Listen, want none", url)
	}
}

// TestEmbeddedListen serves TCP clients when Listen is set.
func TestEmbeddedListen(t *testing.T) {
	e, err := StartEmbedded(EmbeddedConfig{Dir: t.TempDir(), Listen: "127.0.0.1:-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	nc, err := nats.Connect(e.ClientURL())
	if err != nil {
		t.Fatalf("connect to %q: %v", e.ClientURL(), err)
	}
	t.Cleanup(nc.Close)
	if _, err := Open(context.Background(), nc, Config{Prefix: "listen"}); err != nil {
		t.Fatalf("Open over TCP: %v", err)
	}
}

func TestStartEmbeddedRefusesBadConfig(t *testing.T) {
	for _, cfg := range []EmbeddedConfig{{}, {Dir: t.TempDir(), Listen: "no-port"}} {
		if e, err := StartEmbedded(cfg); err == nil {
			e.Shutdown()
			t.Errorf("StartEmbedded(%+v) succeeded, want an error", cfg)
		}
	}
}
