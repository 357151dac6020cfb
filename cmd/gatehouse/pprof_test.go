package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/quietport"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

func TestDebugPprof(t *testing.T) {
	ln, err := quietport.Listen()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var log strings.Builder
	stop, err := startDebugPprof(addr, &log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	res, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || len(body) == 0 || !strings.Contains(log.String(), "debug pprof endpoint enabled") {
		t.Errorf("GET /debug/pprof/cmdline = %d %q; log %q", res.StatusCode, body, log.String())
	}
}

func TestDebugPprofRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "example.com:6060", "6060"} {
		if _, err := startDebugPprof(addr, io.Discard); err == nil || !strings.Contains(err.Error(), debugPprofEnv) {
			t.Errorf("%q: err = %v", addr, err)
		}
	}
	stop, err := startDebugPprof("", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	stop()
}

// TestDebugHeap: /debug/heap answers the live heap after a collection.
func TestDebugHeap(t *testing.T) {
	rec := httptest.NewRecorder()
	pprofMux().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/heap", nil))
	var got map[string]uint64
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("GET /debug/heap = %d %q: %v", rec.Code, rec.Body, err)
	}
	if got["heap_alloc_bytes"] == 0 || got["num_gc"] == 0 {
		t.Fatalf("GET /debug/heap = %v: no heap, or no collection", got)
	}
}

// TestDebugRetention: /debug/retention shows, per stream, the log's clock
// and the earliest pending expiry (null when none), from the store the
// clock ticker watches.
func TestDebugRetention(t *testing.T) {
	get := func() (int, string) {
		rec := httptest.NewRecorder()
		pprofMux().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/retention", nil))
		return rec.Code, rec.Body.String()
	}
	store := memory.New()
	old := debugRetention.Load()
	t.Cleanup(func() {
		if old != nil {
			debugRetention.Store(old)
		}
	})
	debugRetention.Store(projections.Reader(store))
	if code, body := get(); code != http.StatusOK || !strings.Contains(body, `"events":{"log_clock":"0001-01-01T00:00:00Z","next_expiry":null}`) {
		t.Fatalf("empty store: %d %s", code, body)
	}
	exp := time.Date(2026, 1, 1, 13, 0, 0, 0, time.UTC)
	ev := events.MustNew(events.Ref{Tenant: "t1", Type: events.AggToken, ID: "app_1"}, events.System, exp.Add(-time.Hour),
		&events.TokenRevoked{JTI: "j1", AppID: "app_1", ExpiresAt: exp, GraceSeconds: 1})
	if err := store.Update(t.Context(), events.HighVolume, 1, func(tx projections.Tx) error { return projections.Apply(tx, ev) }); err != nil {
		t.Fatal(err)
	}
	var got map[string]struct {
		LogClock   time.Time  `json:"log_clock"`
		NextExpiry *time.Time `json:"next_expiry"`
	}
	code, body := get()
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != http.StatusOK {
		t.Fatalf("%d %s: %v", code, body, err)
	}
	if e := got["events"]; e.NextExpiry == nil || !e.NextExpiry.Equal(exp.Add(time.Second)) || !e.LogClock.Equal(exp.Add(-time.Hour)) {
		t.Fatalf("after a revocation: %s", body)
	}
}
