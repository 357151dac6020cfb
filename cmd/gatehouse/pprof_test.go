package main

import (
	"io"
	"net"
	"net/http"
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
