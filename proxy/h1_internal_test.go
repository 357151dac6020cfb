package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/webhooks"
)

func newTestH1(t *testing.T) *h1Transport {
	t.Helper()
	h1 := newH1Transport(webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: true}).Transport)
	if h1 == nil {
		t.Fatal("no h1 transport over the webhooks' transport")
	}
	return h1
}

func send(t *testing.T, rt http.RoundTripper, ctx context.Context, method, url string, body []byte) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		req.ContentLength = int64(len(body))
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp, b, err
}

// TestH1KeepsConnections: sequential small requests (GET, and a POST
// whose body is in memory) share one kept connection; the upstream gets
// method, path, headers and body, the caller the status, headers and the
// whole answer; a chunked answer of unknown length passes too.
func TestH1KeepsConnections(t *testing.T) {
	var conns atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Got", r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("X-Test")+" "+string(b))
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush()
		}
		_, _ = w.Write([]byte(strings.Repeat("a", 3000)))
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	h1 := newTestH1(t)
	for i := range 20 {
		method, path, body := http.MethodGet, fmt.Sprintf("/items?i=%d", i), []byte(nil)
		if i%2 == 1 {
			method, path, body = http.MethodPost, "/chunked", []byte(fmt.Sprintf(`{"i":%d}`, i))
		}
		resp, b, err := send(t, h1, t.Context(), method, up.URL+path, body)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		want := strings.TrimSpace(method + " " + path + "  " + string(body))
		if resp.StatusCode != 200 || resp.Header.Get("X-Got") != want || len(b) != 3000 {
			t.Fatalf("request %d: %d %q (want %q), %d bytes", i, resp.StatusCode, resp.Header.Get("X-Got"), want, len(b))
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("connections = %d, want 1 kept for all", n)
	}
}

// TestH1Takes: streamed bodies, bodies over h1MaxBody, https and
// upgrades go to the fallback transport.
func TestH1Takes(t *testing.T) {
	h1 := newTestH1(t)
	small := []byte("x")
	cases := []struct {
		name   string
		url    string
		body   []byte
		replay bool
		header string
		want   bool
	}{
		{"get", "http://a.test/x", nil, false, "", true},
		{"small replayable body", "http://a.test/x", small, true, "", true},
		{"streamed body", "http://a.test/x", small, false, "", false},
		{"large body", "http://a.test/x", make([]byte, h1MaxBody+1), true, "", false},
		{"https", "https://a.test/x", nil, false, "", false},
		{"upgrade", "http://a.test/x", nil, false, "websocket", false},
	}
	for _, c := range cases {
		req := httptest.NewRequest(http.MethodPost, c.url, nil)
		if c.body != nil {
			body := c.body
			req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			if c.replay {
				req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			}
		} else {
			req.Body = http.NoBody
		}
		if c.header != "" {
			req.Header.Set("Upgrade", c.header)
		}
		if got := h1.takes(req); got != c.want {
			t.Errorf("%s: takes = %v, want %v", c.name, got, c.want)
		}
	}
}

// rawUpstream serves each connection with fn on loopback, for at most
// 20 s, and returns its URL and a count of the connections it took.
func rawUpstream(tb testing.TB, fn func(net.Conn, *bufio.Reader)) (string, *atomic.Int64) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = ln.Close() })
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(20 * time.Second))
				fn(c, bufio.NewReader(c))
			}()
		}
	}()
	return "http://" + ln.Addr().String(), &conns
}

// headFields reads a request's head (without a body) from tp and returns
// its field lines as they came on the wire.
func headFields(tp *textproto.Reader) ([]string, error) {
	if _, err := tp.ReadLine(); err != nil {
		return nil, err
	}
	var fields []string
	for {
		line, err := tp.ReadLine()
		if err != nil || line == "" {
			return fields, err
		}
		fields = append(fields, line)
	}
}

// answerOK reads a request on c and answers it "ok"; false when none came.
func answerOK(c net.Conn, br *bufio.Reader) bool {
	req, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, req.Body)
	_, err = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	return err == nil
}

// TestH1IdleClosedRetry: an upstream that closes a kept connection when
// the next request arrives, without answering, makes the request fail
// before any answer; a GET is sent again once on a new connection, a
// POST is not (it may not be repeated: net/http's rule).
func TestH1IdleClosedRetry(t *testing.T) {
	url, conns := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		if answerOK(c, br) {
			_, _ = http.ReadRequest(br) // the next one: closed unanswered
		}
	})
	h1 := newTestH1(t)
	for i := range 3 {
		resp, b, err := send(t, h1, t.Context(), http.MethodGet, url+"/x", nil)
		if err != nil || resp.StatusCode != 200 || string(b) != "ok" {
			t.Fatalf("GET %d: %v %v %q", i, err, resp, b)
		}
	}
	// GET 1 on a new connection, GETs 2 and 3 each met a kept connection
	// closed unanswered and were sent again on a new one.
	if n := conns.Load(); n != 3 {
		t.Fatalf("%d connections for three GETs; want 3", n)
	}
	if _, _, err := send(t, h1, t.Context(), http.MethodPost, url+"/x", []byte("body")); err == nil || !errors.Is(err, errIdleClosed) {
		t.Fatalf("POST on a kept connection closed unanswered: %v, want an error (not repeated)", err)
	}
	if n := conns.Load(); n != 3 {
		t.Fatalf("the POST was sent again on a new connection")
	}
}

// TestH1ClosedWhileIdle: a kept connection the upstream closed while it
// was idle is not used again, so a POST after the close goes on a new
// connection and is answered (net/http's transport does the same, its
// reader having seen the close); before, it failed on the closed one.
func TestH1ClosedWhileIdle(t *testing.T) {
	url, conns := rawUpstream(t, func(c net.Conn, br *bufio.Reader) { answerOK(c, br) })
	h1 := newTestH1(t)
	if resp, b, err := send(t, h1, t.Context(), http.MethodGet, url+"/x", nil); err != nil || resp.StatusCode != 200 || string(b) != "ok" {
		t.Fatalf("GET: %v %v %q", err, resp, b)
	}
	// Wait until the upstream's close of the kept connection has arrived.
	waitFor(t, func() bool {
		p := h1.pool(strings.TrimPrefix(url, "http://"))
		p.mu.Lock()
		defer p.mu.Unlock()
		if len(p.conns) != 1 {
			return false
		}
		c := p.conns[0].conn
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		_, err := p.conns[0].br.Peek(1)
		_ = c.SetReadDeadline(time.Time{})
		return errors.Is(err, io.EOF)
	})
	resp, b, err := send(t, h1, t.Context(), http.MethodPost, url+"/x", []byte("body"))
	if err != nil || resp.StatusCode != 200 || string(b) != "ok" {
		t.Fatalf("POST after the upstream closed the kept connection: %v %v %q", err, resp, b)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections; want 2 (the POST on a new one)", n)
	}
}

// TestH1LimitsAndCancel: answer headers over h1MaxHeader fail the
// exchange; an upstream that does not answer is given up at the
// context's deadline (context.DeadlineExceeded) and its connection is not
// kept.
func TestH1LimitsAndCancel(t *testing.T) {
	url, _ := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		switch req.URL.Path {
		case "/huge":
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nX-Big: "+strings.Repeat("b", 2*h1MaxHeader)+"\r\n\r\n")
		case "/hang":
			_, _ = br.ReadByte() // until the client gives up
		}
	})
	h1 := newTestH1(t)
	if _, _, err := send(t, h1, t.Context(), http.MethodGet, url+"/huge", nil); !errors.Is(err, errHeaderTooLarge) {
		t.Fatalf("huge headers: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, _, err := send(t, h1, ctx, http.MethodGet, url+"/hang", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hanging upstream: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("gave up after %s", d)
	}
	if n := h1.count.Load(); n != 0 {
		t.Fatalf("%d connections kept after failed exchanges", n)
	}
}

// waitFor polls cond until it holds, for at most 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestH1Sweep: connections idle past h1IdleTimeout are closed and their
// upstream's empty pool dropped; a connection put back afterwards is kept
// in the upstream's new pool, not lost in the dropped one.
func TestH1Sweep(t *testing.T) {
	url, _ := rawUpstream(t, func(_ net.Conn, br *bufio.Reader) { _, _ = br.ReadByte() }) // open until the client closes
	addr := strings.TrimPrefix(url, "http://")
	h1 := newTestH1(t)
	a, _, err := h1.get(t.Context(), addr, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := h1.get(t.Context(), addr, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	h1.put(addr, a)
	old := h1.pool(addr)
	if h1.count.Load() != 1 || len(old.conns) != 1 {
		t.Fatalf("kept %d", h1.count.Load())
	}
	h1.sweep(time.Now().Add(h1IdleTimeout + time.Second))
	if h1.count.Load() != 0 || !old.dead {
		t.Fatalf("after the sweep: %d kept, pool dead %v", h1.count.Load(), old.dead)
	}
	if _, err := a.conn.Write([]byte("x")); err == nil {
		t.Fatal("a swept connection is still open")
	}
	h1.put(addr, b)
	if p := h1.pool(addr); p == old || len(p.conns) != 1 || h1.count.Load() != 1 {
		t.Fatalf("put after the sweep: new pool %v, %d kept", p != old, h1.count.Load())
	}
	got, reused, err := h1.get(t.Context(), addr, time.Time{})
	if err != nil || !reused || got != b {
		t.Fatalf("get after the sweep: reused %v, same %v, %v", reused, got == b, err)
	}
}

// TestProxyUsesH1: the proxy built over the webhooks' transport sends
// small requests through h1Transport: two calls through the reverse
// proxy share one upstream connection, carry the injected token (not the
// caller's) and come back whole.
func TestProxyUsesH1(t *testing.T) {
	var conns atomic.Int64
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("Authorization"))
	}))
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	p := New(Config{Transport: webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: true}).Transport})
	if _, ok := p.rp.Transport.(*retrying).base.(*h1Transport); !ok {
		t.Fatalf("the proxy's transport is %T", p.rp.Transport.(*retrying).base)
	}
	for range 2 {
		target, _ := url.Parse(up.URL + "/v1/items")
		cl := &call{appID: "app_1", token: "provider-token", version: 1, target: target}
		req := httptest.NewRequest(http.MethodGet, "/v1/proxy/cred_1/v1/items", nil)
		req.Header.Set("Authorization", "Bearer gatehouse-token")
		rec := httptest.NewRecorder()
		p.rp.ServeHTTP(rec, req.WithContext(context.WithValue(req.Context(), callKey{}, cl)))
		if cl.err != nil || rec.Code != 200 || rec.Body.String() != "Bearer provider-token" {
			t.Fatalf("proxied: %v %d %q", cl.err, rec.Code, rec.Body.String())
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("upstream connections = %d, want 1", n)
	}
}

// TestH1RefusesInvalidHeaders: a header value with CR or LF (a
// provider's token with a line break) or a name that is not a token is
// refused before anything is written, as net/http's transport refuses
// it, instead of being sent with spaces in the line break's place.
func TestH1RefusesInvalidHeaders(t *testing.T) {
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(up.Close)
	h1 := newTestH1(t)
	for _, h := range []http.Header{
		{"Authorization": {"Bearer abc\r\nX-Injected: 1"}},
		{"X-Line": {"a\nb"}},
		{"Bad Name": {"v"}},
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, up.URL+"/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = h
		if resp, err := h1.RoundTrip(req); err == nil {
			_ = resp.Body.Close()
			t.Fatalf("header %v: sent, want refused", h)
		} else if !strings.Contains(err.Error(), "invalid header field") {
			t.Fatalf("header %v: %v", h, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("upstream saw %d requests, want none", n)
	}
	// A valid request still goes through on the same transport.
	resp, _, err := send(t, h1, t.Context(), http.MethodGet, up.URL+"/ok", nil)
	if err != nil || resp.StatusCode != 200 || hits.Load() != 1 {
		t.Fatalf("valid request: %v %v, hits %d", resp, err, hits.Load())
	}
}

// TestH1Watcher: an exchange is ended at roundTrip's deadline (no
// context deadline) and at its context's cancellation (a client gone),
// its connection not kept; with nothing in flight the watcher stops.
func TestH1Watcher(t *testing.T) {
	url, _ := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		_, _ = br.ReadByte() // until the client gives up
	})
	h1 := newTestH1(t)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/hang", nil)
	start := time.Now()
	if _, err := h1.roundTrip(req, start.Add(100*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("past the deadline: %v", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 10*time.Second {
		t.Fatalf("gave up after %s", d)
	}
	ctx, cancel := context.WithCancel(t.Context())
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, url+"/hang", nil)
	errc := make(chan error, 1)
	go func() {
		_, err := h1.roundTrip(req, time.Now().Add(time.Hour))
		errc <- err
	}()
	waitFor(t, func() bool { return h1.watch.inflight.Load() == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if n := h1.count.Load(); n != 0 {
		t.Fatalf("%d connections kept after ended exchanges", n)
	}
	waitFor(t, func() bool { return !h1.watch.running.Load() })
}
