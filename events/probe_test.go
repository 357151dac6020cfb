package events_test

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
)

// Issue 12 point 9: readiness must fail when the log cannot take writes,
// even while it answers reads. A sealed stream is such a log.
func TestWritableFailsOnReadOnlyLog(t *testing.T) {
	nc := natstest.Connect(t, natstest.Embedded(t))
	l := natstest.Open(t, nc)
	ctx := t.Context()
	if err := l.Writable(ctx); err != nil {
		t.Fatalf("fresh log: %v", err)
	}
	before, err := l.LastSeq(ctx, events.Control)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Writable(ctx); err != nil {
		t.Fatal(err)
	}
	if after, _ := l.LastSeq(ctx, events.Control); after != before {
		t.Fatalf("the probe stored something: last sequence %d → %d", before, after)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	name := sealControl(t, js)
	if _, err := l.LastSeq(ctx, events.Control); err != nil {
		t.Fatalf("reads should still work on the sealed stream: %v", err)
	}
	if err := l.Writable(ctx); err == nil {
		t.Fatalf("Writable is nil with %s sealed", name)
	}
}

// sealControl seals the log's control stream (the only stream whose name
// ends in _CONTROL on this fresh server) and returns its name.
func sealControl(t *testing.T, js jetstream.JetStream) string {
	t.Helper()
	names := js.StreamNames(t.Context())
	for name := range names.Name() {
		if len(name) > 8 && name[len(name)-8:] == "_CONTROL" {
			s, err := js.Stream(t.Context(), name)
			if err != nil {
				t.Fatal(err)
			}
			cfg := s.CachedInfo().Config
			cfg.Sealed = true
			if _, err := js.UpdateStream(t.Context(), cfg); err != nil {
				t.Fatal(err)
			}
			return name
		}
	}
	t.Fatal("no control stream")
	return ""
}
