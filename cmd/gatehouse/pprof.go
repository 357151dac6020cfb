package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// debugPprofEnv, when set to a loopback host:port, makes serve expose
// net/http/pprof there, on a listener of its own that the public router
// never reaches. It is a tool for profiling (`make bench`, issue 7), not a
// setting: it is not in Config and not in the help.
const debugPprofEnv = "GATEHOUSE_DEBUG_PPROF"

// startDebugPprof serves the pprof handlers on addr until stop is called;
// with addr empty it does nothing. addr must be on loopback.
func startDebugPprof(addr string, stderr io.Writer) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	if err := checkLoopback(addr); err != nil {
		return nil, fmt.Errorf("%s: %w", debugPprofEnv, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", debugPprofEnv, err)
	}
	srv := &http.Server{Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	slog.New(slog.NewJSONHandler(stderr, nil)).Warn("debug pprof endpoint enabled",
		slog.String("addr", "http://"+ln.Addr().String()+"/debug/pprof/"))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/heap", liveHeap)
	mux.HandleFunc("/debug/retention", retentionState)
	return mux
}

// debugRetention holds the projections.Reader whose retention
// /debug/retention shows: the server's store, set once it is open.
var debugRetention atomic.Value

// retentionState answers, per stream, the log's clock and the earliest
// expiry still pending (null when no document of the stream has one), in
// JSON: `make bench` waits on it for retention to have dropped what a
// load made (issue 12), instead of sleeping.
func retentionState(w http.ResponseWriter, r *http.Request) {
	store, ok := debugRetention.Load().(projections.Reader)
	if !ok {
		http.Error(w, "the projections are not open yet", http.StatusServiceUnavailable)
		return
	}
	type state struct {
		LogClock   time.Time  `json:"log_clock"`
		NextExpiry *time.Time `json:"next_expiry"`
	}
	out := map[events.Stream]state{}
	for _, s := range events.Streams {
		clock, err := projections.LogClock(r.Context(), store, s)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		st := state{LogClock: clock}
		next, ok, err := projections.NextExpiry(r.Context(), store, s)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		if ok {
			st.NextExpiry = &next
		}
		out[s] = st
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// liveHeap answers the live heap after forced collections, in JSON: what
// `make bench` reports after each load (the retention figures of issue
// 12), and what an operator compares over time to see that state stays
// bounded. It collects twice: objects a sync.Pool holds (the embedded
// NATS server pools its 8 MB file-store block buffers) survive one
// collection in the pool's victim cache and go at the second, so
// heap_alloc_bytes counts what is referenced, and heap_after_one_gc_bytes
// what a single collection leaves.
func liveHeap(w http.ResponseWriter, _ *http.Request) {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	once := m.HeapAlloc
	runtime.GC()
	runtime.ReadMemStats(&m)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]uint64{
		"heap_alloc_bytes": m.HeapAlloc, "heap_after_one_gc_bytes": once, "heap_objects": m.HeapObjects, "heap_sys_bytes": m.HeapSys, "num_gc": uint64(m.NumGC),
	})
}

// checkLoopback admits host:port whose host is localhost or a loopback IP.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return errors.New("must listen on loopback (like 127.0.0.1:6060)")
	}
	return nil
}
