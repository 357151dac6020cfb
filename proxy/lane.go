package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http/httpguts"

	"github.com/gatehouse/gatehouse/httpapi"
)

// Lane serves the proxy route's HTTP/1.1 connections itself, without
// net/http's server and echo, whose per-request work (the server's
// response and its background read, the deadlines, echo's context and
// router, the edge middleware) cost the proxy about as much as the two
// exchanges' own system calls (issue 16's profiles).
//
// A connection enters the lane with its first proxy request that the
// lane can take (HTTP/1.1 without TLS on the server itself, a body of at
// most h1MaxBody bytes of declared length, no Expect, no Upgrade): the
// route's handler hijacks it and serves that request and the ones after
// it in its own loop, with what the edge does for every request (the
// request id, the HTTP metrics and the debug access log, a panic turned
// into a 500) and the same handling as through echo (Proxy.handle). A
// request the lane cannot take whole (another route, another method, a
// streamed or chunked body, an upgrade, a head larger than the buffer,
// anything net/http would refuse) is handed back to net/http with the
// connection, its bytes unread: the server serves the connection from
// that request on, exactly as if it had never left (Attach's listener).
//
// Timeouts: one deadline bounds a connection's wait for its next
// request, the request's reading and its answer's writing: the longer of
// the server's IdleTimeout and WriteTimeout from the last renewal (at
// most a second old: renew), looser than net/http's ReadTimeout and
// WriteTimeout of one request; a head that does not come whole has the
// server's ReadHeaderTimeout. The exchange with the upstream keeps its
// own bound (Config.Timeout). A client that goes away mid-request
// cancels its exchange, as through net/http, but found later and at no
// cost to a quick exchange: net/http's background read per request,
// which tells at once, is part of what the lane saves; instead the
// lane's clientWatch looks at the client of a request in flight longer
// than clientCheck, every clientCheck, with one non-waiting peek
// (clientGone), and a client that closed or reset its connection cancels
// the connection's context, which ends the exchange (either transport's)
// and any wait for a token. On the
// server's Shutdown the lane closes its idle connections at once and the
// others after their answer; Wait waits for them.
type Lane struct {
	p       *Proxy
	log     *slog.Logger
	observe func(httpapi.Observed)
	// ways counts the lane's work: connections taken and handed back,
	// requests served the raw way and the general way.
	ways                                  *prometheus.CounterVec
	taken, handedBack, rawWay, generalWay prometheus.Counter

	srv      *http.Server
	idle     time.Duration
	header   time.Duration
	write    time.Duration
	handoff  handoffListener
	attached atomic.Bool
	closing  atomic.Bool

	mu    sync.Mutex
	conns map[*laneConn]struct{}
	wg    sync.WaitGroup
	// clients watches the clients of the requests in flight.
	clients clientWatch
}

// Route is the proxy's route template (the HTTP metrics' route label).
const Route = PathPrefix + ":credential/*"

// NewLane returns p's lane, recording the edge's HTTP metrics on reg
// (nil: none).
// It takes nothing until attached to the server (Attach).
func NewLane(p *Proxy, reg prometheus.Registerer, log *slog.Logger) *Lane {
	if log == nil {
		log = slog.Default()
	}
	if reg == nil {
		reg = prometheus.NewRegistry() // counted, never served
	}
	l := &Lane{p: p, log: log, observe: httpapi.RouteObserver(reg, log, Route), conns: map[*laneConn]struct{}{}}
	l.ways = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse", Subsystem: "proxy", Name: "lane_total",
		Help: "The credential proxy's connection lane: connections taken from and handed back to the HTTP server, requests served the raw way and the general way.",
	}, []string{"event"})
	l.ways = httpapi.RegisterCollector(reg, l.ways)
	l.taken, l.handedBack = l.ways.WithLabelValues("taken"), l.ways.WithLabelValues("handed_back")
	l.rawWay, l.generalWay = l.ways.WithLabelValues("raw"), l.ways.WithLabelValues("general")
	l.handoff.ch = make(chan net.Conn)
	l.handoff.done = make(chan struct{})
	p.lane = l
	return l
}

// Attach makes srv's connections enter the lane: it serves the
// connections the lane hands back on srv too (srv.Serve on a listener of
// the lane's, until srv shuts down) and closes the lane's connections on
// srv's Shutdown. srv's handler must be the one the proxy's route is
// registered on.
func (l *Lane) Attach(srv *http.Server) {
	l.srv = srv
	l.idle = srv.IdleTimeout
	if l.idle <= 0 {
		l.idle = srv.ReadTimeout
	}
	l.header = srv.ReadHeaderTimeout
	if l.header <= 0 {
		l.header = srv.ReadTimeout
	}
	l.write = srv.WriteTimeout
	srv.RegisterOnShutdown(l.shutdown)
	go func() { _ = srv.Serve(&l.handoff) }()
	l.attached.Store(true)
}

// Wait shuts the lane down (as the server's Shutdown does: no connection
// taken or handed back any more, the idle ones closed, the others after
// their answer) and waits until every connection of the lane is closed,
// or ctx ends (they are then closed).
func (l *Lane) Wait(ctx context.Context) error {
	l.shutdown()
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		for lc := range l.conns {
			_ = lc.conn.Close()
		}
		l.mu.Unlock()
		return ctx.Err()
	}
}

// shutdown stops taking connections, wakes the idle ones (which close)
// and has the others close after their answer.
func (l *Lane) shutdown() {
	l.closing.Store(true)
	_ = l.handoff.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for lc := range l.conns {
		if lc.idle.Load() {
			_ = lc.conn.SetReadDeadline(aLongTimeAgo)
		}
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// take serves c's connection in the lane, c's request first, when the
// lane can take it; it reports whether it did (the connection is then
// the lane's, and closed or handed back when take returns).
func (l *Lane) take(c echo.Context) bool {
	r := c.Request()
	if !l.attached.Load() || l.closing.Load() || r.TLS != nil || r.ProtoMajor != 1 || r.ProtoMinor != 1 ||
		len(r.TransferEncoding) > 0 || r.ContentLength < 0 || r.ContentLength > h1MaxBody || !plainHeader(r.Header) {
		return false
	}
	hj, ok := c.Response().Writer.(http.Hijacker)
	if !ok {
		return false
	}
	lc := &laneConn{l: l}
	if !l.track(lc) {
		return false
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		l.untrack(lc)
		return false
	}
	httpapi.MarkHijacked(c)
	l.taken.Inc()
	br := brw.Reader
	// A connection handed back and taken again: the lane reads its own
	// reader again, not one more layer of net/http's over it; when
	// net/http has read ahead (pipelined requests), a reader of the
	// connection itself that gives net/http's bytes and the lane's first
	// (else every hand-back of a pipelining client would wrap the
	// connection once more).
	if hc, ok := conn.(*handedConn); ok {
		if br.Buffered() == 0 {
			conn, br = hc.Conn, hc.br
		} else {
			conn, br = hc.Conn, unread(hc.Conn, br, hc.br)
		}
	}
	lc.init(conn, br)
	l.publish(lc)
	defer lc.end()
	first := r.WithContext(lc.ctx)
	lc.bodyOf(first)
	lc.renew(true)
	lc.afterPost = r.Method == http.MethodPost
	if lc.serve(first, c.Param("credential"), c.Response().Header().Get(httpapi.HeaderRequestID), time.Now()) {
		lc.loop()
	}
	return true
}

// plainHeader reports whether h (a request's, read by net/http) names
// nothing the lane leaves to net/http.
func plainHeader(h http.Header) bool {
	_, expect := h["Expect"]
	_, upgrade := h["Upgrade"]
	return !expect && !upgrade
}

// track counts lc among the connections Wait waits for, unless the lane
// is shutting down; publish then lists it, its connection set, among
// those shutdown and Wait close (not before: Wait would read a connection
// being set, or none).
func (l *Lane) track(lc *laneConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing.Load() {
		return false
	}
	l.wg.Add(1)
	return true
}

func (l *Lane) publish(lc *laneConn) {
	l.mu.Lock()
	l.conns[lc] = struct{}{}
	l.mu.Unlock()
}

func (l *Lane) untrack(lc *laneConn) {
	l.mu.Lock()
	delete(l.conns, lc)
	l.mu.Unlock()
	l.wg.Done()
}

func deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// laneConn is one connection in the lane.
type laneConn struct {
	l    *Lane
	conn net.Conn
	br   *bufio.Reader
	ctx  context.Context
	// cancel ends ctx: the clientWatch's when it finds the client gone
	// (clientGone), end's otherwise.
	cancel context.CancelFunc
	// shard is lc's in the clientWatch.
	shard  uint32
	remote string
	idle   atomic.Bool
	// renewed is when the deadline was last put forward (renew).
	renewed time.Time
	// afterPost says the last request was a POST (readHead skips the
	// empty line that may follow its body).
	afterPost bool
	closed    bool
	// The head parser's reader over the head's bytes (ReadRequest reads a
	// *bufio.Reader), and the request body's reader.
	head   bytes.Reader
	parse  *bufio.Reader
	body   io.LimitedReader
	answer laneWriter
	// The raw way's: the head's copy and its parse, the body, the
	// answer's fields.
	rawCopy      []byte
	raw          rawHead
	rawBody      [h1MaxBody]byte
	answerFields []rawField
}

func (lc *laneConn) init(conn net.Conn, br *bufio.Reader) {
	lc.conn, lc.br = conn, br
	lc.remote = conn.RemoteAddr().String()
	ctx := context.WithValue(context.Background(), http.ServerContextKey, lc.l.srv)
	lc.ctx, lc.cancel = context.WithCancel(context.WithValue(ctx, http.LocalAddrContextKey, conn.LocalAddr()))
	lc.shard = lc.l.clients.next.Add(1) % clientShards
	lc.parse = bufio.NewReaderSize(&lc.head, br.Size())
	lc.answer.bw = bufio.NewWriterSize(conn, 4<<10)
	lc.answer.h = make(http.Header, 8)
}

// clientGone reports whether the client closed or reset the connection
// (peerClosed; called by the clientWatch, while the lane waits on the
// upstream). A connection that is not a socket is never found gone.
func (lc *laneConn) clientGone() bool {
	sc, ok := lc.conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	// Control, not Read: it does not wait for the connection's read lock,
	// which a streamed request body's reader may hold.
	if err := raw.Control(func(fd uintptr) { gone = peerClosed(fd) }); err != nil {
		return true // closed
	}
	return gone
}

// end closes the connection unless handed back.
func (lc *laneConn) end() {
	if !lc.closed {
		_ = lc.conn.Close()
	}
	lc.cancel()
	lc.l.untrack(lc)
}

// loop serves the connection's next requests until it closes or is
// handed back.
func (lc *laneConn) loop() {
	l := lc.l
	for {
		lc.idle.Store(true)
		if l.closing.Load() {
			return
		}
		lc.renew(false)
		if l.closing.Load() {
			return // woken by shutdown before the renewal
		}
		head, err := lc.readHead()
		lc.idle.Store(false)
		if err != nil {
			if errors.Is(err, errHeadTooLarge) {
				lc.handBack()
			}
			return
		}
		start := time.Now()
		if l.p.h1 != nil && lc.rawRequest(head) {
			n := int(lc.raw.length)
			if _, err := io.ReadFull(lc.br, lc.rawBody[:n]); err != nil {
				return
			}
			lc.afterPost = lc.raw.method == http.MethodPost
			if !lc.serveRaw(&lc.raw, lc.rawBody[:n], start) {
				return
			}
			continue
		}
		req, ref, ok := lc.request(head)
		if !ok {
			lc.handBack()
			return
		}
		_, _ = lc.br.Discard(len(head))
		lc.afterPost = req.Method == http.MethodPost
		if !lc.serve(req, ref, httpapi.NewRequestID(req.Header.Get(httpapi.HeaderRequestID)), start) {
			return
		}
	}
}

var errHeadTooLarge = errors.New("proxy: the request head is larger than the lane's buffer")

// renew puts the connection's deadline span from now (the longer of the
// server's IdleTimeout and WriteTimeout: one deadline bounds the wait for
// a request, its reading and its answer's writing), at most once a second
// unless forced: a deadline update is a timer update, which at every
// request cost the proxy a fiftieth of its time.
func (lc *laneConn) renew(force bool) {
	now := time.Now()
	if !force && now.Sub(lc.renewed) < time.Second {
		return
	}
	lc.renewed = now
	var d time.Time
	if span := max(lc.l.idle, lc.l.write); span > 0 {
		d = now.Add(span)
	}
	_ = lc.conn.SetDeadline(d)
}

// readHead waits for the next request's head and returns its bytes
// (through the blank line), left in the reader.
func (lc *laneConn) readHead() ([]byte, error) {
	br := lc.br
	if _, err := br.Peek(1); err != nil {
		return nil, err
	}
	from, timed := 0, false
	if lc.afterPost {
		// The CRLF old clients send after a POST's body (RFC 9112
		// section 2.2): skipped, up to four CR or LF as net/http does,
		// which waits for four bytes (any request has them) to count
		// them: a CR and its LF may come apart (review h1). A wait is
		// the head's, under the header timeout.
		lc.afterPost = false
		if br.Buffered() < 4 {
			_ = lc.conn.SetReadDeadline(deadline(lc.l.header))
			timed = true
		}
		b, _ := br.Peek(4)
		n := 0
		for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
			n++
		}
		if n > 0 {
			_, _ = br.Discard(n)
			if _, err := br.Peek(1); err != nil {
				return nil, err
			}
		}
	}
	for {
		buf, _ := br.Peek(br.Buffered())
		if end := headEnd(buf, from); end > 0 {
			if timed {
				lc.renew(true) // the header timeout ends with the head
			}
			return buf[:end], nil
		}
		if len(buf) >= br.Size() {
			return nil, errHeadTooLarge
		}
		from = len(buf)
		if !timed {
			// A head that does not come whole: the header timeout from
			// now.
			_ = lc.conn.SetReadDeadline(deadline(lc.l.header))
			timed = true
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			return nil, err
		}
	}
}

// headEnd is the length of the head in buf (through the empty line that
// ends it, CRLF or a bare LF as net/http reads them), 0 when buf does not
// hold it whole; the search starts near from (what was searched before).
func headEnd(buf []byte, from int) int {
	for i := max(0, from-2); i < len(buf); {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j + 1
		if i < len(buf) && buf[i] == '\n' {
			return i + 1
		}
		if i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n' {
			return i + 2
		}
	}
	return 0
}

// rawRequest parses head for the raw way (laneraw.go) and, when it is
// one, reads it from the connection.
func (lc *laneConn) rawRequest(head []byte) bool {
	lc.rawCopy = append(lc.rawCopy[:0], head...)
	if !lc.raw.parse(lc.rawCopy) {
		return false
	}
	_, _ = lc.br.Discard(len(head))
	return true
}

// request parses head into a request the lane takes, and the credential
// it names; ok is false for one it leaves to net/http (which answers
// what it does not take, a malformed request included, as it always
// does).
func (lc *laneConn) request(head []byte) (req *http.Request, ref string, ok bool) {
	lc.head.Reset(head)
	lc.parse.Reset(&lc.head)
	req, err := http.ReadRequest(lc.parse)
	if err != nil || req.ProtoMajor != 1 || req.ProtoMinor != 1 || len(req.TransferEncoding) > 0 ||
		req.ContentLength < 0 || req.ContentLength > h1MaxBody || !plainHeader(req.Header) || !slices.Contains(Methods, req.Method) {
		return nil, "", false
	}
	// The route, as echo matches it: the path as sent, "/v1/proxy/", a
	// credential, "/". Escaped paths are echo's to match.
	if req.URL.RawPath != "" || !strings.HasPrefix(req.RequestURI, "/") {
		return nil, "", false
	}
	rest, found := strings.CutPrefix(req.URL.Path, PathPrefix)
	if !found {
		return nil, "", false
	}
	ref, _, found = strings.Cut(rest, "/")
	if !found || ref == "" {
		return nil, "", false
	}
	// What net/http's server refuses before its handler (ReadRequest has
	// refused a second Host and taken the one out of the header).
	if req.Host == "" || !httpguts.ValidHostHeader(req.Host) {
		return nil, "", false
	}
	for name, values := range req.Header {
		if !httpguts.ValidHeaderFieldName(name) {
			return nil, "", false
		}
		for _, v := range values {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, "", false
			}
		}
	}
	req.RemoteAddr = lc.remote
	req = req.WithContext(lc.ctx)
	lc.bodyOf(req)
	return req, ref, true
}

// bodyOf makes req's body its declared length read from the connection
// (lc.body, which serve reads to its end if the handler did not).
//
// A body longer than RetryBody (at most h1MaxBody here) streams to the
// upstream (Proxy.exchange): the transport's writer reads it, and may
// still read it after the answer (a RoundTripper may, and net/http's does
// when the upstream answers before the body is whole), while the lane
// reads the connection on. Such a body is read whole now, into memory of
// its own (net/http's server closes a handler's body instead; the raw way
// reads every body whole before the call too; review h2).
func (lc *laneConn) bodyOf(req *http.Request) {
	lc.body = io.LimitedReader{R: lc.br, N: req.ContentLength}
	req.Body = http.NoBody
	switch {
	case req.ContentLength > lc.l.p.cfg.RetryBody:
		buf := make([]byte, req.ContentLength)
		n, err := io.ReadFull(&lc.body, buf)
		var body io.Reader = bytes.NewReader(buf[:n])
		if err != nil {
			// The client's error comes after what came (serve then finds
			// the body unread, and closes).
			body = io.MultiReader(body, failedReader{err})
		}
		req.Body = io.NopCloser(body)
	case req.ContentLength > 0:
		req.Body = io.NopCloser(&lc.body)
	}
}

// failedReader is a reader that fails with err.
type failedReader struct{ err error }

func (r failedReader) Read([]byte) (int, error) { return 0, r.err }

// serve answers req (the credential ref), as the edge and the route's
// handler would; it reports whether the connection may serve another
// request.
func (lc *laneConn) serve(req *http.Request, ref, requestID string, start time.Time) (keep bool) {
	lc.l.generalWay.Inc()
	w := &lc.answer
	w.reset(req.Method)
	w.close = req.Close
	w.requestID = requestID
	lc.l.clients.start(lc)
	defer func() {
		lc.l.clients.stop(lc)
		if v := recover(); v != nil {
			keep = lc.panicked(v, w, requestID, func() *http.Request { return req })
		}
		lc.l.observe(httpapi.Observed{Method: req.Method, Path: req.URL.Path, Remote: lc.remote, RequestID: requestID,
			Status: w.status, Size: w.written, Elapsed: time.Since(start)})
	}()
	if err := lc.l.p.handle(w, req, ref); err != nil {
		if w.headWritten {
			return false
		}
		httpapi.WriteProblem(w, req, lc.l.log, Route, requestID, err)
	}
	if lc.body.N > 0 {
		// A body not read to its end (an error answered before): the rest
		// is read, so that the next request starts where it should.
		if _, err := io.Copy(io.Discard, &lc.body); err != nil {
			w.close = true
		}
	}
	if lc.l.closing.Load() {
		w.close = true
	}
	if err := w.finish(); err != nil {
		return false
	}
	return !w.close
}

// panicked answers a panic v of a request's handling as the edge does
// (http.ErrAbortHandler cuts the answer; any other is logged and, when
// the answer has not begun, answered 500); the connection then closes.
func (lc *laneConn) panicked(v any, w *laneWriter, requestID string, req func() *http.Request) (keep bool) {
	if v == http.ErrAbortHandler {
		return false
	}
	lc.l.log.LogAttrs(context.Background(), slog.LevelError, "handler panicked",
		slog.String("request_id", requestID), slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
	if !w.headWritten {
		w.discardHeader()
		w.close = true
		httpapi.WriteProblem(w, req(), lc.l.log, Route, requestID, httpapi.Internal(fmt.Errorf("panic: %v", v)))
		_ = w.finish()
	}
	return false
}

// handBack hands the connection to net/http (Attach's listener), its
// unread bytes first.
func (lc *laneConn) handBack() {
	if lc.l.closing.Load() {
		return
	}
	_ = lc.conn.SetDeadline(time.Time{})
	if lc.l.handoff.push(&handedConn{Conn: lc.conn, br: lc.br}) {
		lc.closed = true
		lc.l.handedBack.Inc()
	}
}

// handoffListener is the listener on which the server takes the
// connections the lane hands back.
type handoffListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (h *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-h.ch:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoffListener) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

func (h *handoffListener) Addr() net.Addr { return laneAddr{} }

// push gives c to the server; false once the listener is closed.
func (h *handoffListener) push(c net.Conn) bool {
	select {
	case h.ch <- c:
		return true
	case <-h.done:
		return false
	}
}

type laneAddr struct{}

func (laneAddr) Network() string { return "lane" }
func (laneAddr) String() string  { return "proxy lane" }

// handedConn is a connection handed back: its reads start with what the
// lane's reader holds.
type handedConn struct {
	net.Conn
	br *bufio.Reader
}

func (c *handedConn) Read(b []byte) (int, error) { return c.br.Read(b) }

// unread is a reader of conn that gives the bytes held, those of held's
// readers in order (read from conn before), then conn's: all of them in
// its buffer at once, so that it reads conn itself from then on.
func unread(conn net.Conn, held ...*bufio.Reader) *bufio.Reader {
	var pending []byte
	for _, r := range held {
		b, _ := r.Peek(r.Buffered())
		pending = append(pending, b...)
	}
	br := bufio.NewReaderSize(&prefixed{Conn: conn, pending: pending}, max(held[0].Size(), len(pending)))
	_, _ = br.Peek(len(pending))
	return br
}

// prefixed reads pending, then the connection.
type prefixed struct {
	net.Conn
	pending []byte
}

func (p *prefixed) Read(b []byte) (int, error) {
	if len(p.pending) > 0 {
		n := copy(b, p.pending)
		p.pending = p.pending[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}
