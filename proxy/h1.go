package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// h1Transport sends the proxy's small requests to http:// upstreams over
// HTTP/1.1 keep-alive connections of its own, in the calling goroutine:
// net/http's Transport hands every exchange to two goroutines per
// connection (a writer and a reader) and back, which on the proxy's path
// cost more than the exchange's own system calls (issue 16's profiles).
// It takes only requests it can send whole without reading the answer
// first (no body, or a body held in memory of at most h1MaxBody bytes,
// which the kernel's socket buffer takes at once), with no Upgrade; every
// other request (streamed bodies, https:// upstreams, which may speak
// HTTP/2, protocol upgrades) goes to fallback, the webhooks' transport.
//
// Connections come from dial, the fallback's own SSRF-guarded dialer, so
// a private address is refused at every connection exactly as there.
// Answer headers are bounded (h1MaxHeader); the exchange is bounded by
// the request's context and by the deadline given to roundTrip (the
// watcher puts the connection's deadline in the past at either's end:
// the exchange fails at once). A connection goes back to the idle pool
// only once its answer was read to the end.
type h1Transport struct {
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	fallback http.RoundTripper

	pools sync.Map     // host:port → *h1Pool
	count atomic.Int64 // idle connections in all
	swept atomic.Int64 // the last sweep (Unix nanoseconds)
	watch watcher      // ends the exchanges past their deadline or cancelled
}

// h1Pool holds one upstream's idle connections, the most recently used
// last (one lock per upstream, none shared by all).
type h1Pool struct {
	mu    sync.Mutex
	conns []*h1Conn
	dead  bool // swept away empty: a put takes the upstream's new pool
}

const (
	// h1MaxBody is the largest request body sent by h1Transport.
	h1MaxBody = 4 << 10
	// h1MaxHeader bounds an answer's status line and headers (the
	// webhooks' transport's MaxResponseHeaderBytes).
	h1MaxHeader = 64 << 10
	// h1MaxIdlePerHost and h1MaxIdle bound the idle connections kept;
	// h1IdleTimeout is how long one is kept unused.
	h1MaxIdlePerHost = 256
	h1MaxIdle        = 512
	h1IdleTimeout    = 90 * time.Second
)

// newH1Transport returns the transport sending through dial, or nil when
// there is no dialer to take (fallback is then the only transport).
func newH1Transport(fallback http.RoundTripper) *h1Transport {
	tr, ok := fallback.(*http.Transport)
	if !ok || tr.DialContext == nil || tr.Proxy != nil {
		return nil
	}
	return &h1Transport{dial: tr.DialContext, fallback: fallback}
}

// h1Conn is one connection with its buffers.
type h1Conn struct {
	conn  net.Conn
	br    *bufio.Reader
	bw    *bufio.Writer
	limit *budgetReader
	since time.Time // idle since
	w     watch     // its exchange under the watcher (guarded by its shard)
	// raw and probe read the connection without waiting (unsolicited),
	// probe made once per connection; stray is what it found.
	raw   syscall.RawConn
	probe func(fd uintptr) bool
	stray bool
}

// budgetReader is the connection's reader with a byte budget while an
// answer's head is read (-1: unbounded).
type budgetReader struct {
	r    io.Reader
	left int64
}

var errHeaderTooLarge = errors.New("proxy: the upstream's answer headers are too large")

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.left < 0 {
		return b.r.Read(p)
	}
	if b.left == 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.roundTrip(req, time.Time{})
}

// roundTrip is RoundTrip with the exchange (its answer's body included)
// bounded by deadline too (zero: by req's context only).
func (t *h1Transport) roundTrip(req *http.Request, deadline time.Time) (*http.Response, error) {
	if !t.takes(req) {
		return t.fallback.RoundTrip(req)
	}
	if err := validHeader(req.Header); err != nil {
		return nil, err
	}
	addr := dialAddr(req.URL)
	for attempt := 0; ; attempt++ {
		c, reused, err := t.get(req.Context(), addr, deadline)
		if err != nil {
			return nil, err
		}
		resp, err := t.exchange(req, c, addr, deadline)
		if err == nil {
			return resp, nil
		}
		if !t.resend(addr, c, reused, attempt > 0, retryable(req), err) {
			return nil, err
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context()) // the caller's request stays as it was
			req.Body = body
		}
	}
}

// validHeader refuses what net/http's transport refuses before writing
// a request: a header name that is not a token, a value with a control
// character (CR or LF, say from a provider's token with a line break,
// which Header.Write would send with spaces in their place).
func validHeader(h http.Header) error {
	for name, values := range h {
		if !httpguts.ValidHeaderFieldName(name) {
			return fmt.Errorf("proxy: invalid header field name %q", name)
		}
		for _, v := range values {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("proxy: invalid header field value for %q", name)
			}
		}
	}
	return nil
}

// takes reports whether req is one h1Transport sends itself.
func (t *h1Transport) takes(req *http.Request) bool {
	if req.URL.Scheme != "http" || req.Header.Get("Upgrade") != "" {
		return false
	}
	if req.Body == nil || req.Body == http.NoBody {
		return true
	}
	return req.GetBody != nil && req.ContentLength >= 0 && req.ContentLength <= h1MaxBody
}

// resend reports whether an exchange that failed with err on c (reused:
// a kept connection) is sent again on a new connection: when c was one
// the upstream closed while it was idle, which fails before any answer,
// once (again: it was sent again already) and when the request may be
// (may: mayResend), as net/http's transport does. The idle connections
// kept as long as c are forgotten with it.
func (t *h1Transport) resend(addr string, c *h1Conn, reused, again, may bool, err error) bool {
	if !reused || again || !may || !errors.Is(err, errIdleClosed) {
		return false
	}
	t.forget(addr, c)
	return true
}

func retryable(req *http.Request) bool {
	_, a := req.Header["Idempotency-Key"]
	_, b := req.Header["X-Idempotency-Key"]
	return mayResend(req.Method, a || b)
}

// mayResend is net/http's rule for sending a request again on a new
// connection: an idempotent method, or an idempotency key (keyed).
func mayResend(method string, keyed bool) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return keyed
}

// errIdleClosed marks a kept connection that failed before any byte of
// an answer.
var errIdleClosed = errors.New("proxy: the upstream closed a kept connection")

// exchange writes req on c and reads the answer's head; the answer's body
// returns c to the pool at its end.
func (t *h1Transport) exchange(req *http.Request, c *h1Conn, addr string, deadline time.Time) (*http.Response, error) {
	// The watcher puts the connection's deadline in the past at the
	// exchange's deadline or the context's end, which ends any read or
	// write at once; the connection itself has no deadline otherwise
	// (setting and clearing one per exchange were two timer updates a
	// request).
	t.watch.start(c, req.Context(), deadline)
	fail := func(err error) (*http.Response, error) { return nil, t.failed(c, err) }
	if err := writeRequest(c.bw, req); err != nil {
		return fail(errors.Join(errIdleClosed, err))
	}
	if err := c.bw.Flush(); err != nil {
		return fail(errors.Join(errIdleClosed, err))
	}
	c.limit.left = h1MaxHeader
	resp, err := t.readHead(c, req)
	c.limit.left = -1
	if err != nil {
		return fail(err)
	}
	resp.Body = &h1Body{rc: resp.Body, t: t, c: c, addr: addr, keep: !resp.Close && !req.Close}
	return resp, nil
}

// failed ends c's exchange that failed with err, closing c, and returns
// why: the watcher's reason when it ended the exchange, a deadline
// exceeded as the context's, err otherwise.
func (t *h1Transport) failed(c *h1Conn, err error) error {
	ended := t.watch.stop(c)
	_ = c.conn.Close()
	if ended != nil {
		return ended
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return err
}

// firstByte waits for an answer's first byte on c: a connection closed
// or reset before it is errIdleClosed (a kept connection the upstream
// closed while idle).
func firstByte(c *h1Conn) error {
	if _, err := c.br.Peek(1); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
			return errors.Join(errIdleClosed, err)
		}
		return err
	}
	return nil
}

// malformedStatus refuses an upstream's status below 100, which
// http.ReadResponse and net/http's transport take (any three digits):
// it is neither informational nor final (net/http's server refuses to
// write one).
func malformedStatus(code int) error {
	if code < 100 {
		return fmt.Errorf("proxy: the upstream answered a malformed status code %03d", code)
	}
	return nil
}

// readHead reads the answer's head, skipping informational (1xx) answers.
// A status below 100, which http.ReadResponse takes (any three digits),
// is refused: it is no informational answer, and skipping it would read
// its body as the next answer (a response splitting; net/http's server
// refuses to write such a status too).
func (t *h1Transport) readHead(c *h1Conn, req *http.Request) (*http.Response, error) {
	if err := firstByte(c); err != nil {
		return nil, err
	}
	for {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			return nil, err
		}
		if err := malformedStatus(resp.StatusCode); err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			if resp.StatusCode == http.StatusSwitchingProtocols {
				// Never asked for (no Upgrade is sent here).
				return nil, errors.New("proxy: the upstream switched protocols unasked")
			}
			return resp, nil
		}
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

func (t *h1Transport) pool(addr string) *h1Pool {
	if p, ok := t.pools.Load(addr); ok {
		return p.(*h1Pool)
	}
	p, _ := t.pools.LoadOrStore(addr, &h1Pool{})
	return p.(*h1Pool)
}

// get returns an idle connection to addr, or a new one (dialed by
// deadline, if not zero).
func (t *h1Transport) get(ctx context.Context, addr string, deadline time.Time) (*h1Conn, bool, error) {
	now := time.Now()
	p := t.pool(addr)
	for {
		p.mu.Lock()
		if len(p.conns) == 0 {
			p.mu.Unlock()
			break
		}
		c := p.conns[len(p.conns)-1]
		p.conns[len(p.conns)-1] = nil
		p.conns = p.conns[:len(p.conns)-1]
		t.count.Add(-1)
		p.mu.Unlock()
		if now.Sub(c.since) < h1IdleTimeout && !c.unsolicited() {
			return c, true, nil
		}
		_ = c.conn.Close()
	}
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	conn, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	lr := &budgetReader{r: conn, left: -1}
	c := &h1Conn{conn: conn, br: bufio.NewReader(lr), bw: bufio.NewWriter(conn), limit: lr}
	c.w.shard = t.watch.next.Add(1) % watchShards
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
			c.probe = func(fd uintptr) bool {
				c.stray = strayBytes(fd)
				return true
			}
		}
	}
	return c, false, nil
}

// unsolicited reports whether c's upstream sent bytes while c was idle
// (after its last answer, read to its end: junk, a stray answer, the
// rest of a body longer than its length said), which the next request
// on c would otherwise read as its answer (a response splitting or
// desynchronization, another caller's data for a request of another
// credential). Such a connection is not used again, as net/http's
// transport, whose reader watches every idle connection, discards it
// (review h2). It reads c without waiting, one system call, which also
// finds a connection the upstream closed while it was idle: it is not
// used either, so a request that may not be sent again (a POST) is not
// lost on it, as with net/http's transport; one closed after this read
// is still the idle-closed rule's (errIdleClosed).
func (c *h1Conn) unsolicited() bool {
	if c.raw == nil {
		return false
	}
	c.stray = false
	if err := c.raw.Read(c.probe); err != nil {
		return false
	}
	return c.stray
}

// put keeps c for the next request to addr, within the bounds.
func (t *h1Transport) put(addr string, c *h1Conn) {
	now := time.Now()
	c.since = now
	if last := t.swept.Load(); now.UnixNano()-last > int64(h1IdleTimeout/3) && t.swept.CompareAndSwap(last, now.UnixNano()) {
		t.sweep(now)
	}
	p := t.pool(addr)
	p.mu.Lock()
	for p.dead {
		p.mu.Unlock()
		p = t.pool(addr)
		p.mu.Lock()
	}
	defer p.mu.Unlock()
	if len(p.conns) >= h1MaxIdlePerHost || t.count.Load() >= h1MaxIdle {
		_ = c.conn.Close()
		return
	}
	p.conns = append(p.conns, c)
	t.count.Add(1)
}

// sweep closes the connections idle for longer than h1IdleTimeout and
// forgets the upstreams left without any.
func (t *h1Transport) sweep(now time.Time) {
	t.pools.Range(func(addr, v any) bool {
		p := v.(*h1Pool)
		p.mu.Lock()
		defer p.mu.Unlock()
		if t.closeIdle(p, func(c *h1Conn) bool { return now.Sub(c.since) >= h1IdleTimeout }) == 0 {
			p.dead = true
			t.pools.CompareAndDelete(addr, p)
		}
		return true
	})
}

// forget closes the idle connections to addr that went idle no later
// than dead, a kept connection the upstream turned out to have closed:
// an upstream closes its idle connections all at once when it restarts
// or shuts down, and the longest idle first when it times them out, so
// those are as good as closed too. Without it, every request after an
// upstream's restart would take one of them, fail and be sent again (or
// fail outright, when it may not be): one failed attempt per connection
// that was kept, where net/http's transport, whose reader of each kept
// connection sees it closed, has none.
func (t *h1Transport) forget(addr string, dead *h1Conn) {
	v, ok := t.pools.Load(addr)
	if !ok {
		return
	}
	p := v.(*h1Pool)
	p.mu.Lock()
	defer p.mu.Unlock()
	t.closeIdle(p, func(c *h1Conn) bool { return !c.since.After(dead.since) })
}

// closeIdle closes and drops p's idle connections for which gone is true
// and returns how many are left; p.mu is held.
func (t *h1Transport) closeIdle(p *h1Pool, gone func(*h1Conn) bool) int {
	kept := p.conns[:0]
	for _, c := range p.conns {
		if !gone(c) {
			kept = append(kept, c)
			continue
		}
		_ = c.conn.Close()
		t.count.Add(-1)
	}
	clear(p.conns[len(kept):])
	p.conns = kept
	return len(kept)
}

// h1Body is an answer's body: read to its end, it gives its connection
// back to the pool; closed before, it closes the connection.
type h1Body struct {
	rc   io.ReadCloser
	t    *h1Transport
	c    *h1Conn
	addr string
	keep bool
	mu   sync.Mutex
	done bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil {
		b.finish(errors.Is(err, io.EOF))
	}
	return n, err
}

func (b *h1Body) Close() error {
	b.finish(false)
	return nil
}

// finish ends the exchange once: the connection is kept only after a
// clean end of the body, with the watch stopped before it ended the
// exchange.
func (b *h1Body) finish(eof bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return
	}
	b.done = true
	if !b.t.finish(b.addr, b.c, eof && b.keep) {
		_ = b.rc.Close()
	}
}

// finish ends c's exchange: c goes back to the pool when keep, the
// exchange was not ended by the watcher and nothing more was read; it is
// closed otherwise. It reports whether c was kept.
func (t *h1Transport) finish(addr string, c *h1Conn, keep bool) bool {
	if t.watch.stop(c) == nil && keep && c.br.Buffered() == 0 {
		t.put(addr, c)
		return true
	}
	_ = c.conn.Close()
	return false
}
