package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestDebugPprof(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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
