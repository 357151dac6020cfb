package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/webhooks"
)

// newLaneServer is an HTTP server with the proxy's route (and echo's
// /healthz) and the lane attached, as the binary has them; no caller is
// authenticated (every proxied request is answered 401, which is enough
// for the lane's framing). It returns the lane and the server's address.
func newLaneServer(t *testing.T) (*Lane, string) {
	t.Helper()
	e := httpapi.NewEcho(httpapi.Options{Streamed: []string{PathPrefix}})
	p := New(Config{Transport: webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: true}).Transport})
	p.Register(e, &oauth.Authenticator{})
	l := NewLane(p, prometheus.NewRegistry(), nil)
	ts := httptest.NewUnstartedServer(e)
	l.Attach(ts.Config)
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := l.Wait(ctx); err != nil {
			t.Errorf("lane: %v", err)
		}
	})
	return l, ts.Listener.Addr().String()
}

// laneDial opens a raw connection to addr.
func laneDial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// readAnswers reads n answers off br (the request methods are GET).
func readAnswers(t *testing.T, br *bufio.Reader, n int) []*http.Response {
	t.Helper()
	var out []*http.Response
	for i := 0; i < n; i++ {
		res, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
		if err != nil {
			t.Fatalf("answer %d: %v", i+1, err)
		}
		if _, err := io.ReadAll(res.Body); err != nil {
			t.Fatalf("answer %d: %v", i+1, err)
		}
		_ = res.Body.Close()
		out = append(out, res)
	}
	return out
}

// laneConns are the lane's connections, once each is waiting for its
// next request.
func laneConns(t *testing.T, l *Lane, want int) []*laneConn {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		l.mu.Lock()
		var idle []*laneConn
		for lc := range l.conns {
			if lc.idle.Load() {
				idle = append(idle, lc)
			}
		}
		n := len(l.conns)
		l.mu.Unlock()
		if len(idle) == want && n == want {
			return idle
		}
		if time.Now().After(deadline) {
			t.Fatalf("lane: %d connections (%d idle), want %d idle", n, len(idle), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestLanePipelinedHandBackFlat: requests the lane hands back and net/http
// gives it again (an escaped slash is echo's to route), pipelined, are
// answered in order, and the connection the lane then holds is the
// client's own, not one wrapper more for each hand-back (each a reader
// and its buffers, and one more call on every read: a connection could
// pile up as many as it sent such requests).
func TestLanePipelinedHandBackFlat(t *testing.T) {
	l, addr := newLaneServer(t)
	c, br := laneDial(t, addr)
	const n = 40
	var b strings.Builder
	b.WriteString("GET /v1/proxy/c/first HTTP/1.1\r\nHost: x\r\nX-Request-Id: r0\r\n\r\n")
	for i := 1; i <= n; i++ {
		if i%2 == 0 { // a body too, which the lane reads after net/http's buffered bytes
			fmt.Fprintf(&b, "POST /v1/proxy/c/a%%2Fb HTTP/1.1\r\nHost: x\r\nX-Request-Id: r%d\r\nContent-Length: 5\r\n\r\nhello", i)
			continue
		}
		fmt.Fprintf(&b, "GET /v1/proxy/c/a%%2Fb HTTP/1.1\r\nHost: x\r\nX-Request-Id: r%d\r\n\r\n", i)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	for i, res := range readAnswers(t, br, n+1) {
		if res.StatusCode != http.StatusUnauthorized || res.Header.Get("X-Request-Id") != fmt.Sprintf("r%d", i) {
			t.Fatalf("answer %d: %d %v", i, res.StatusCode, res.Header)
		}
	}
	lc := laneConns(t, l, 1)[0]
	depth := 0
	for conn := lc.conn; ; depth++ {
		hc, ok := conn.(*handedConn)
		if !ok {
			break
		}
		conn = hc.Conn
	}
	if depth > 0 {
		t.Errorf("the lane's connection is %d hand-backs deep", depth)
	}
}

// TestLaneWaitCutsBusyConnection: Wait whose context ends closes the
// connections still busy with their first request (here one whose body
// does not come: its 401 waits for it), and does so safely (the race detector watches the
// connection's publication to Wait).
func TestLaneWaitCutsBusyConnection(t *testing.T) {
	l, addr := newLaneServer(t)
	c, br := laneDial(t, addr)
	if _, err := c.Write([]byte("POST /v1/proxy/c/x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		l.mu.Lock()
		n := len(l.conns)
		l.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lane took no connection")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := l.Wait(ctx); err == nil {
		t.Fatal("Wait: nil with a connection awaiting its body")
	}
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("the connection is still open after Wait's end")
	}
}

// TestLaneEmptyLineAfterPost: the CRLF an old client sends after a
// POST's body is skipped, as net/http's server does (RFC 9112 section
// 2.2), on the raw way and the general way: the next request is
// answered, not refused 400.
func TestLaneEmptyLineAfterPost(t *testing.T) {
	_, addr := newLaneServer(t)
	c, br := laneDial(t, addr)
	post := "POST /v1/proxy/c/x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}\r\n"
	get := "GET /v1/proxy/c/y HTTP/1.1\r\nHost: x\r\n\r\n"
	// The first POST is echo's (then the lane's general way), the second
	// the raw way's.
	for i := 0; i < 2; i++ {
		if _, err := c.Write([]byte(post + get)); err != nil {
			t.Fatal(err)
		}
		for j, res := range readAnswers(t, br, 2) {
			if res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("round %d, answer %d: %d", i+1, j+1, res.StatusCode)
			}
		}
	}
}

// TestLaneWriterTrailersLikeServer: the trailers the lane writes are
// those net/http's server writes for the same handler: announced names
// that may not be trailers (RFC 9110 section 6.5.1: framing, routing,
// authentication, Content-Type, …) are left out, say an upstream's
// "Trailer: Host, Content-Type, X-Sum".
func TestLaneWriterTrailersLikeServer(t *testing.T) {
	handler := func(w http.ResponseWriter) {
		w.Header().Set("Trailer", "Host, Content-Type, Www-Authenticate, X-Sum")
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "body")
		w.Header().Set("Host", "evil.example")
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Www-Authenticate", "Basic")
		w.Header().Set("X-Sum", "4")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { handler(w) }))
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(res.Body)
	_ = res.Body.Close()
	want := res.Trailer

	var out strings.Builder
	lw := laneWriter{bw: bufio.NewWriter(&out), h: http.Header{}}
	lw.reset(http.MethodGet)
	handler(&lw)
	if err := lw.finish(); err != nil {
		t.Fatal(err)
	}
	got, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out.String())), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(got.Body)
	for _, name := range []string{"Host", "Content-Type", "Www-Authenticate", "X-Sum"} {
		if g, w := got.Trailer.Get(name), want.Get(name); g != w {
			t.Errorf("trailer %s: the lane wrote %q, net/http %q", name, g, w)
		}
	}
}

// TestNewLaneNilRegistry: a lane without a registry (as registerer gives
// for a server without metrics) counts nowhere instead of panicking.
func TestNewLaneNilRegistry(t *testing.T) {
	l := NewLane(New(Config{}), nil, nil)
	l.observe(httpapi.Observed{Method: http.MethodGet, Status: http.StatusOK})
	l.taken.Inc()
}

// TestLaneWriterInformationalLikeServer (review h1): an informational
// answer (a 103 an upstream sent, which the reverse proxy passes on with
// its fields) is written without Content-Length and Transfer-Encoding,
// as net/http's server writes it (RFC 9110 section 8.6: no
// Content-Length in a 1xx): the lane wrote them, and a client taking the
// length at its word read that many bytes of the final answer as the
// 103's body.
func TestLaneWriterInformationalLikeServer(t *testing.T) {
	handler := func(w http.ResponseWriter) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.Header().Set("Content-Length", "40")
		w.Header().Set("Transfer-Encoding", "chunked")
		w.WriteHeader(http.StatusEarlyHints)
		clear(w.Header())
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok")
	}
	// The informational answer's field lines, sorted, from the raw
	// answer r.
	hints := func(r *bufio.Reader) []string {
		tp := textproto.NewReader(r)
		status, err := tp.ReadLine()
		if err != nil || !strings.HasPrefix(status, "HTTP/1.1 103 ") {
			t.Fatalf("status line %q: %v", status, err)
		}
		var lines []string
		for {
			line, err := tp.ReadLine()
			if err != nil {
				t.Fatal(err)
			}
			if line == "" {
				slices.Sort(lines)
				return lines
			}
			if name, _, _ := strings.Cut(line, ":"); name != "X-Request-Id" {
				lines = append(lines, line)
			}
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { handler(w) }))
	defer srv.Close()
	c, br := laneDial(t, srv.Listener.Addr().String())
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	want := hints(br)

	var out strings.Builder
	lw := laneWriter{bw: bufio.NewWriter(&out), h: http.Header{}}
	lw.reset(http.MethodGet)
	handler(&lw)
	if err := lw.finish(); err != nil {
		t.Fatal(err)
	}
	if got := hints(bufio.NewReader(strings.NewReader(out.String()))); !slices.Equal(got, want) {
		t.Errorf("the 103's fields: the lane wrote %q, net/http %q", got, want)
	}
}

// TestLaneEmptyLineAfterPostSplit (review h1): the CRLF after a POST's
// body is skipped when its CR and LF come apart too (net/http's server
// waits for four bytes before it counts them): the lane skipped the CR
// alone, then read the LF as the next head's empty first line, and the
// request was refused 400 (handed back with it) where net/http serves
// it. net.Pipe's writes end when the lane has read them, so the CR is
// all the lane holds when it looks.
func TestLaneEmptyLineAfterPostSplit(t *testing.T) {
	server, client := net.Pipe()
	defer server.Close()
	defer client.Close()
	lc := &laneConn{l: &Lane{}, conn: server, br: bufio.NewReader(server), afterPost: true}
	const get = "GET /v1/proxy/c/x HTTP/1.1\r\nHost: x\r\n\r\n"
	go func() {
		if _, err := io.WriteString(client, "\r"); err == nil {
			_, _ = io.WriteString(client, "\n"+get)
		}
	}()
	head, err := lc.readHead()
	if err != nil || string(head) != get {
		t.Fatalf("head %q, %v; want %q", head, err, get)
	}
}
