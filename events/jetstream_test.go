package events_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/eventstest"
	"github.com/gatehouse/gatehouse/events/natstest"
)

// TestJetStreamEmbedded runs the conformance suite on the embedded server
// over in-process connections, as single-node mode runs.
func TestJetStreamEmbedded(t *testing.T) {
	e := natstest.Embedded(t)
	eventstest.Run(t, func(t *testing.T) events.Log {
		return natstest.Open(t, natstest.Connect(t, e))
	})
}

// TestJetStreamExternal runs the conformance suite on a separate nats-server
// process over TCP, as a deployment with an external NATS runs.
func TestJetStreamExternal(t *testing.T) {
	url, _ := natstest.StartServerProcess(t, t.TempDir())
	eventstest.Run(t, func(t *testing.T) events.Log {
		return natstest.Open(t, natstest.Dial(t, url))
	})
}

// TestOpenRefusesOldServer checks that Open names the problem when the
// server predates atomic batch publish, and creates nothing on it. The old
// server is a real current one (a nats-server process) behind a proxy
// that announces version 2.11.9 in the INFO it greets clients with, which
// is all Open can go by: so the test runs everywhere, whatever NATS the
// machine has, and never skips.
func TestOpenRefusesOldServer(t *testing.T) {
	const old = "2.11.9"
	url, _ := natstest.StartServerProcess(t, t.TempDir())
	nc := natstest.Dial(t, "nats://"+versionProxy(t, strings.TrimPrefix(url, "nats://"), old))
	if v := nc.ConnectedServerVersion(); v != old {
		t.Fatalf("the proxy announced %q, want %q", v, old)
	}
	prefix := natstest.Prefix(t)
	_, err := events.Open(t.Context(), nc, events.Config{Prefix: prefix})
	if err == nil {
		t.Fatalf("Open on NATS %s succeeded, want a refusal", old)
	}
	for _, want := range []string{old, "too old", events.MinServerVersion, "atomic batch"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open error %q does not mention %q", err, want)
		}
	}
	js, err := jetstream.New(natstest.Dial(t, url)) // the server itself
	if err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"_CONTROL", "_EVENTS"} {
		name := strings.ToUpper(prefix) + suffix
		if _, err := js.Stream(t.Context(), name); !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("stream %s on the refused server: %v, want it not to exist", name, err)
		}
	}
}

// versionProxy listens on a loopback port and relays every connection to
// the NATS server at addr, with the version of the server's first INFO
// line replaced by version. It returns its address.
func versionProxy(t *testing.T, addr, version string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	re := regexp.MustCompile(`"version":"[^"]*"`)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer s.Close()
				go func() { _, _ = io.Copy(s, c) }()
				// Every INFO the server sends is rewritten, not only the
				// greeting: the server sends more (JetStream, cluster
				// changes), and the client takes each one's version.
				r := bufio.NewReader(s)
				for {
					line, err := r.ReadString('\n')
					if strings.HasPrefix(line, "INFO ") {
						line = re.ReplaceAllString(line, `"version":"`+version+`"`)
					}
					if _, werr := io.WriteString(c, line); werr != nil || err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestBatchesBeyondServerLimit races more atomic batches than the server
// holds open at once (one per stream here): the server discards the extra
// ones whole before their commit, and Append sends them again, so every
// append succeeds and every event is written once.
func TestBatchesBeyondServerLimit(t *testing.T) {
	url, _ := natstest.StartServerProcess(t, t.TempDir(), "limits { batch { max_inflight_per_stream: 1 } }")
	prefix := natstest.Prefix(t)
	const appenders, batches, size = 8, 3, 40
	results := make([][]events.Result, appenders)
	appends := make([][]events.Append, appenders)
	errs := make([]error, appenders)
	var wg sync.WaitGroup
	for i := range appenders {
		l := openPrefix(t, natstest.Dial(t, url), prefix)
		for range batches {
			appends[i] = append(appends[i], tokenBatch(t, size))
		}
		wg.Go(func() {
			for _, a := range appends[i] {
				r, err := l.Append(t.Context(), a)
				if err != nil {
					errs[i] = err
					return
				}
				results[i] = append(results[i], r)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("appends failed: %v", err)
	}
	l := openPrefix(t, natstest.Dial(t, url), prefix)
	for i := range appenders {
		for j, a := range appends[i] {
			wantWritten(t, l, a, results[i][j])
		}
	}
	if last, err := l.LastSeq(t.Context(), events.HighVolume); err != nil || last != appenders*batches*size {
		t.Fatalf("LastSeq = %d, %v; want %d (every event once)", last, err, appenders*batches*size)
	}
}

// TestBatchRetriedWhileServerIsFull holds the only open-batch slot of the
// stream with a batch of its own, watches on the wire until Append has sent
// its batch twice (the server discarded the first), then commits its own
// batch: the Append must then succeed.
func TestBatchRetriedWhileServerIsFull(t *testing.T) {
	url, _ := natstest.StartServerProcess(t, t.TempDir(), "limits { batch { max_inflight_per_stream: 1 } }")
	prefix := natstest.Prefix(t)
	l := openPrefix(t, natstest.Dial(t, url), prefix)
	raw := natstest.Dial(t, url)
	wire := make(chan *nats.Msg, 1024)
	if _, err := raw.ChanSubscribe(prefix+".evt.>", wire); err != nil {
		t.Fatal(err)
	}

	holdRef := events.Ref{Tenant: "acme", Type: events.AggToken, ID: "tok_hold"}
	body, err := json.Marshal(tokenEvent(t, holdRef))
	if err != nil {
		t.Fatal(err)
	}
	hold := func(seq, commit string) *nats.Msg {
		m := nats.NewMsg(prefix + ".evt.acme.token.tok_hold")
		m.Header.Set("Nats-Batch-Id", "hold")
		m.Header.Set("Nats-Batch-Sequence", seq)
		if commit != "" {
			m.Header.Set("Nats-Batch-Commit", commit)
		} else {
			m.Data = body
		}
		return m
	}
	if ack, err := raw.RequestMsg(hold("1", ""), eventstest.Wait); err != nil || len(ack.Data) != 0 {
		t.Fatalf("open a batch: %v %s", err, ack.Data)
	}

	a := tokenBatch(t, 3)
	type outcome struct {
		r   events.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		r, err := l.Append(t.Context(), a)
		done <- outcome{r, err}
	}()
	sent := map[string]bool{}
	for len(sent) < 2 {
		select {
		case m := <-wire:
			if id := m.Header.Get("Nats-Batch-Id"); id != "" && id != "hold" {
				sent[id] = true
			}
		case o := <-done:
			t.Fatalf("Append returned %+v, %v while the server was full, after sending batches %v", o.r, o.err, sent)
		case <-time.After(eventstest.Wait):
			t.Fatalf("Append did not send its batch again within %s (sent %v)", eventstest.Wait, sent)
		}
	}
	if ack, err := raw.RequestMsg(hold("2", "eob"), eventstest.Wait); err != nil || !strings.Contains(string(ack.Data), `"seq":1`) {
		t.Fatalf("commit the holding batch: %v %s", err, ack.Data)
	}
	select {
	case o := <-done:
		if o.err != nil {
			t.Fatalf("Append while the server was full: %v", o.err)
		}
		wantWritten(t, l, a, o.r)
	case <-time.After(eventstest.Wait):
		t.Fatalf("Append did not return within %s of the server having room", eventstest.Wait)
	}
}

// TestExternalServerKilled appends to a nats-server process, kills it with
// SIGKILL, starts it again on the same store and reads every acknowledged
// event back at its sequence.
func TestExternalServerKilled(t *testing.T) {
	dir := t.TempDir()
	url, stop := natstest.StartServerProcess(t, dir)
	prefix := natstest.Prefix(t)
	nc := natstest.Dial(t, url)
	l := openPrefix(t, nc, prefix)
	var appends []events.Append
	var results []events.Result
	for i := range 30 {
		a := tokenBatch(t, 1+i%4)
		if i%3 == 0 {
			ref := events.Ref{Tenant: "acme", Type: events.AggApp, ID: events.NewID("app")}
			a = events.Append{Events: []events.Event{appEvent(t, ref)}, Expect: []events.Expect{{Ref: ref}}}
		}
		r, err := l.Append(t.Context(), a)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		appends, results = append(appends, a), append(results, r)
	}
	stop()
	nc.Close()

	url, _ = natstest.StartServerProcess(t, dir)
	l = openPrefix(t, natstest.Dial(t, url), prefix)
	for i, a := range appends {
		wantWritten(t, l, a, results[i])
	}
}

// TestStreamLayout checks the streams Open creates against DESIGN.md: file
// storage, kept forever or by age, de-duplication windows, atomic batches,
// no deletion, and one subject per aggregate named by tenant and type.
func TestStreamLayout(t *testing.T) {
	nc := natstest.Connect(t, natstest.Embedded(t))
	prefix := natstest.Prefix(t)
	l := openPrefix(t, nc, prefix)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s          events.Stream
		name, subj string
		maxAge     time.Duration
		duplicates time.Duration
	}{
		{events.Control, strings.ToUpper(prefix) + "_CONTROL", prefix + ".ctl.>", 0, 24 * time.Hour},
		{events.HighVolume, strings.ToUpper(prefix) + "_EVENTS", prefix + ".evt.>", 90 * 24 * time.Hour, 2 * time.Minute},
	} {
		if got := l.StreamName(c.s); got != c.name {
			t.Errorf("StreamName(%s) = %q, want %q", c.s, got, c.name)
		}
		str, err := js.Stream(t.Context(), c.name)
		if err != nil {
			t.Fatalf("stream %s: %v", c.name, err)
		}
		cfg := str.CachedInfo().Config
		if cfg.Storage != jetstream.FileStorage || cfg.Replicas != 1 || cfg.Retention != jetstream.LimitsPolicy ||
			!cfg.AllowAtomicPublish || !cfg.AllowDirect || !cfg.DenyDelete || !cfg.DenyPurge ||
			cfg.MaxAge != c.maxAge || cfg.Duplicates != c.duplicates ||
			len(cfg.Subjects) != 1 || cfg.Subjects[0] != c.subj {
			t.Errorf("stream %s config %+v; want file storage, 1 replica, limits, atomic, direct, deny delete and purge, max age %s, duplicates %s, subjects [%s]",
				c.name, cfg, c.maxAge, c.duplicates, c.subj)
		}
	}

	ref := events.Ref{Tenant: "acme", Type: events.AggApp, ID: "app_1"}
	r, err := l.Append(t.Context(), events.Append{Events: []events.Event{appEvent(t, ref)}})
	if err != nil {
		t.Fatal(err)
	}
	str, err := js.Stream(t.Context(), l.StreamName(events.Control))
	if err != nil {
		t.Fatal(err)
	}
	m, err := str.GetMsg(t.Context(), r.Last())
	if err != nil {
		t.Fatal(err)
	}
	if want := prefix + ".ctl.acme.app.app_1"; m.Subject != want || l.Subject(ref) != want {
		t.Errorf("event stored on %q, Subject() = %q; want %q", m.Subject, l.Subject(ref), want)
	}
}

// TestOpenAgain opens an existing log, as a restart does: the streams and
// their events are kept.
func TestOpenAgain(t *testing.T) {
	e := natstest.Embedded(t)
	prefix := natstest.Prefix(t)
	l := openPrefix(t, natstest.Connect(t, e), prefix)
	a := tokenBatch(t, 3)
	r, err := l.Append(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	again := openPrefix(t, natstest.Connect(t, e), prefix)
	wantWritten(t, again, a, r)
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []events.Config{
		{Prefix: "Gh"}, {Prefix: "g.h"}, {Prefix: "g h"}, {Prefix: "g*"}, {Prefix: "g>"},
		{Prefix: strings.Repeat("g", 129)}, {Replicas: -1}, {Replicas: 6},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("Config%+v.Validate() = nil, want an error", c)
		}
	}
	for _, c := range []events.Config{{}, {Prefix: "gh-prod_2"}, {Replicas: 3}} {
		if err := c.Validate(); err != nil {
			t.Errorf("Config%+v.Validate() = %v", c, err)
		}
	}
}

func openPrefix(t *testing.T, nc *nats.Conn, prefix string) *events.JetStream {
	t.Helper()
	l, err := events.Open(t.Context(), nc, events.Config{Prefix: prefix})
	if err != nil {
		t.Fatalf("open log %s: %v", prefix, err)
	}
	return l
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func appEvent(t testing.TB, ref events.Ref) events.Event {
	t.Helper()
	return events.MustNew(ref, events.System, t0, events.AppDeleted{ClientID: ref.ID})
}

func tokenEvent(t testing.TB, ref events.Ref) events.Event {
	t.Helper()
	return events.MustNew(ref, events.Actor{Kind: events.ActorApp, ID: "app_1"}, t0, events.TokenMinted{
		JTI: ref.ID, AppID: "app_1", ClientID: "client_1", Subject: "client_1",
		GrantType: "client_credentials", Scopes: []string{"read"}, ExpiresAt: t0.Add(time.Hour),
	})
}

// tokenBatch is n token mints, each a new aggregate expected to be new.
func tokenBatch(t testing.TB, n int) events.Append {
	t.Helper()
	var a events.Append
	for range n {
		ref := events.Ref{Tenant: "acme", Type: events.AggToken, ID: events.NewID("tok")}
		a.Events = append(a.Events, tokenEvent(t, ref))
		a.Expect = append(a.Expect, events.Expect{Ref: ref})
	}
	return a
}

// wantWritten checks that every event of a is in l at the sequence r gave
// it. The appends it is used for write one event per aggregate.
func wantWritten(t *testing.T, l events.Log, a events.Append, r events.Result) {
	t.Helper()
	if len(r.Seqs) != len(a.Events) {
		t.Fatalf("result %+v for %d events", r, len(a.Events))
	}
	for i, e := range a.Events {
		got, err := l.Read(t.Context(), e.Aggregate)
		if err != nil || len(got) != 1 || got[0].ID != e.ID || got[0].Seq != r.Seqs[i] {
			t.Fatalf("Read(%s) = %s, %v; want %s at %d", e.Aggregate, describe(got), err, e.ID, r.Seqs[i])
		}
	}
}

func describe(es []events.Event) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%s@%d ", e.ID, e.Seq)
	}
	return b.String()
}

// TestUnknownStream refuses a stream the log does not have instead of
// waiting for it.
func TestUnknownStream(t *testing.T) {
	l := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	if _, err := l.LastSeq(t.Context(), "nope"); !errors.Is(err, events.ErrInvalid) {
		t.Errorf("LastSeq(unknown stream) = %v, want %v", err, events.ErrInvalid)
	}
	err := l.Follow(t.Context(), "nope", 0, func(context.Context, events.Event) error { return nil })
	if !errors.Is(err, events.ErrInvalid) {
		t.Errorf("Follow(unknown stream) = %v, want %v", err, events.ErrInvalid)
	}
}

// TestOpenRefusesReplicasAtOnce: a refusal that waiting cannot cure (3
// replicas on a single server) fails Open at once rather than after the
// wait for a forming cluster.
func TestOpenRefusesReplicasAtOnce(t *testing.T) {
	nc := natstest.Connect(t, natstest.Embedded(t))
	start := time.Now()
	_, err := events.Open(t.Context(), nc, events.Config{Prefix: natstest.Prefix(t), Replicas: 3})
	if err == nil {
		t.Fatal("Open with 3 replicas on one server succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Open failed after %s (%v), want at once", d, err)
	}
}

// TestOpenWaitsForAFormingCluster: instances may start with their NATS
// cluster: Open waits until the cluster can place 3 replicas.
func TestOpenWaitsForAFormingCluster(t *testing.T) {
	c := natstest.StartCluster(t, 3, "")
	c.Stop(1)
	c.Stop(2)
	nc, err := nats.Connect(c.URLs())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	opened := make(chan error, 1)
	go func() {
		_, err := events.Open(t.Context(), nc, events.Config{Prefix: natstest.Prefix(t), Replicas: 3})
		opened <- err
	}()
	select {
	case err := <-opened:
		t.Fatalf("Open returned %v with one server of three", err)
	case <-time.After(time.Second):
	}
	c.Start(1)
	c.Start(2)
	select {
	case err := <-opened:
		if err != nil {
			t.Fatalf("Open once the cluster is back: %v", err)
		}
	case <-time.After(50 * time.Second):
		t.Fatal("Open did not return within 50 s of the cluster coming back")
	}
}

// TestEmbeddedStoreHasOneServer: a second embedded server on a store in
// use is refused, saying why; once the first shuts down, it starts.
func TestEmbeddedStoreHasOneServer(t *testing.T) {
	dir := t.TempDir()
	first, err := events.StartEmbedded(events.EmbeddedConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := events.StartEmbedded(events.EmbeddedConfig{Dir: dir}); err == nil || !strings.Contains(err.Error(), "in use by another process") {
		first.Shutdown()
		t.Fatalf("a second server on the same store: %v", err)
	}
	first.Shutdown()
	again, err := events.StartEmbedded(events.EmbeddedConfig{Dir: dir})
	if err != nil {
		t.Fatalf("after the first shut down: %v", err)
	}
	again.Shutdown()
}
