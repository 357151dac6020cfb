package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// benchConn is one worker's connection: it sends the target's request and
// reads the whole answer into buf.
type benchConn interface {
	do(ctx context.Context, buf *bytes.Buffer) (status int, err error)
	close()
}

// Transports of bench (--transport).
const (
	transportRaw     = "raw"
	transportNetHTTP = "net/http"
)

// newConnFunc returns how each worker opens its connection: the raw
// HTTP/1.1 client for http:// (the default), net/http otherwise.
func newConnFunc(transport string, c *http.Client, t target, timeout time.Duration) (func() benchConn, error) {
	u, err := url.Parse(t.url)
	if err != nil {
		return nil, err
	}
	if transport == transportNetHTTP || u.Scheme != "http" {
		return func() benchConn { return &stdConn{client: c, target: t} }, nil
	}
	req := rawRequest(t, u)
	return func() benchConn { return &rawConn{addr: hostPort(u), req: req, timeout: timeout} }, nil
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// stdConn sends through net/http's client, whose Transport keeps one
// keep-alive connection per worker.
type stdConn struct {
	client *http.Client
	target target
}

func (s *stdConn) do(ctx context.Context, buf *bytes.Buffer) (int, error) {
	res, err := s.client.Do(s.target.request(ctx))
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	buf.Reset()
	_, err = buf.ReadFrom(res.Body)
	return res.StatusCode, err
}

func (s *stdConn) close() {}

// rawConn is a minimal HTTP/1.1 client on one keep-alive connection: it
// writes the same prepared bytes each time and parses the answer in place.
// It costs the load generator, which shares the machine with the server,
// about half of what net/http's client does (one goroutine, no per-request
// request and response objects), so that the figures are the server's.
type rawConn struct {
	addr    string
	req     []byte
	timeout time.Duration
	nc      net.Conn
	br      *bufio.Reader
	stop    func() bool // unregisters the context.AfterFunc
}

// rawRequest serializes t as an HTTP/1.1 request.
func rawRequest(t target, u *url.URL) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gatehouse-bench\r\n", t.method, u.RequestURI(), u.Host)
	for k, vs := range t.header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	if t.body != nil {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(t.body))
	}
	b.WriteString("\r\n")
	b.Write(t.body)
	return b.Bytes()
}

func (c *rawConn) do(ctx context.Context, buf *bytes.Buffer) (int, error) {
	a, err := c.roundTrip(ctx, c.req, buf)
	return a.status, err
}

// roundTrip writes req, a whole HTTP/1.1 request, and reads its answer's
// body into buf.
func (c *rawConn) roundTrip(ctx context.Context, req []byte, buf *bytes.Buffer) (answer, error) {
	if err := c.dial(ctx); err != nil {
		return answer{}, err
	}
	if err := c.nc.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		c.close()
		return answer{}, err
	}
	if _, err := c.nc.Write(req); err != nil {
		c.close()
		return answer{}, err
	}
	a, err := readAnswer(c.br, buf)
	if err != nil || !a.keep {
		c.close()
	}
	return a, err
}

// dial connects unless connected; when ctx ends, a request under way fails
// at once.
func (c *rawConn) dial(ctx context.Context) error {
	if c.nc != nil {
		return nil
	}
	d := net.Dialer{Timeout: min(c.timeout, 5*time.Second), KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	c.nc = nc
	c.br = bufio.NewReaderSize(nc, 16<<10)
	c.stop = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	return nil
}

func (c *rawConn) close() {
	if c.nc == nil {
		return
	}
	c.stop()
	_ = c.nc.Close()
	c.nc, c.br = nil, nil
}

var errBadResponse = errors.New("malformed HTTP response")

// readResponse reads one HTTP/1.1 response from br, its body into buf, and
// reports its status and whether the connection may be used again.
func readResponse(br *bufio.Reader, buf *bytes.Buffer) (status int, keep bool, err error) {
	a, err := readAnswer(br, buf)
	return a.status, a.keep, err
}

// answer is what readAnswer tells of a response besides its body.
type answer struct {
	status   int
	keep     bool   // the connection may be used again
	location string // the Location header
}

// readAnswer is readResponse that also returns the Location header (the
// code scenario follows the authorization endpoint's redirect).
func readAnswer(br *bufio.Reader, buf *bytes.Buffer) (answer, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return answer{}, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return answer{}, errBadResponse
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return answer{}, errBadResponse
	}
	http10 := line[7] == '0'
	h, err := readHeader(br)
	if err != nil {
		return answer{status: status}, err
	}
	buf.Reset()
	switch {
	case h.chunked:
		err = readChunked(br, buf)
	case h.length >= 0:
		_, err = io.CopyN(buf, br, h.length)
	case status == http.StatusNoContent || status == http.StatusNotModified || status/100 == 1:
	default: // the body ends with the connection
		_, err = buf.ReadFrom(br)
		h.close = true
	}
	return answer{status: status, keep: err == nil && !h.close && !http10, location: h.location}, err
}

// respHeader is what readAnswer needs of a header.
type respHeader struct {
	length   int64 // -1: no Content-Length
	chunked  bool
	close    bool
	location string
}

func readHeader(br *bufio.Reader) (respHeader, error) {
	h := respHeader{length: -1}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return h, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return h, nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return h, errBadResponse
		}
		if err := h.add(name, bytes.TrimSpace(value)); err != nil {
			return h, err
		}
	}
}

func (h *respHeader) add(name, value []byte) error {
	switch {
	case bytes.EqualFold(name, []byte("Content-Length")):
		n, err := strconv.ParseInt(string(value), 10, 64)
		if err != nil || n < 0 {
			return errBadResponse
		}
		h.length = n
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		h.chunked = bytes.EqualFold(value, []byte("chunked"))
	case bytes.EqualFold(name, []byte("Connection")):
		h.close = bytes.EqualFold(value, []byte("close"))
	case bytes.EqualFold(name, []byte("Location")):
		h.location = string(value)
	}
	return nil
}

// readChunked reads a chunked body (RFC 9112 §7.1) and its trailers.
func readChunked(br *bufio.Reader, buf *bytes.Buffer) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return errBadResponse
		}
		if n == 0 {
			_, err := readHeader(br) // trailers
			return err
		}
		if _, err := io.CopyN(buf, br, n); err != nil {
			return err
		}
		if _, err := br.Discard(2); err != nil {
			return err
		}
	}
}

// stepClient sends the requests of a scenario that builds each one afresh
// (code, refresh: a new code, the family's newest refresh token): on raw
// connections for an http:// server with --transport raw, as the fixed
// requests of the other scenarios go, else through net/http's client. A
// step borrows one connection per request; there are as many as workers.
type stepClient struct {
	c    *http.Client
	base string
	host string
	free chan *stepConn // nil: through c
}

// stepConn is a raw connection with the buffers of its request and of its
// answer's body.
type stepConn struct {
	raw  rawConn
	req  []byte
	body bytes.Buffer
}

// appendRequest appends an HTTP/1.1 request (the bytes rawRequest writes
// for a target) to b: appends instead of fmt.Fprintf per line, which a
// step paid for each of its requests.
func appendRequest(b []byte, method, uri, host string, header http.Header, body []byte) []byte {
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, uri...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUser-Agent: gatehouse-bench\r\n"...)
	for k, vs := range header {
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	if body != nil {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// newStepClient returns the step client of cfg's server: raw connections
// unless the transport is net/http or the URL is not http://.
func newStepClient(c *http.Client, cfg benchConfig) (*stepClient, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, err
	}
	s := &stepClient{c: c, base: cfg.URL, host: u.Host}
	if cfg.Transport == transportNetHTTP || u.Scheme != "http" {
		return s, nil
	}
	n := max(cfg.Concurrency, 1)
	s.free = make(chan *stepConn, n)
	for range n {
		s.free <- &stepConn{raw: rawConn{addr: hostPort(u), timeout: cfg.Timeout}}
	}
	return s, nil
}

// do sends method uri (a path and query) with header and body (nil: none)
// and calls read with the answer's status, Location header and body
// (valid during the call only); it returns read's kind of error, or the
// transport's.
func (s *stepClient) do(ctx context.Context, method, uri string, header http.Header, body []byte, read func(a answer, body []byte) string) string {
	if s.free == nil {
		return s.doHTTP(ctx, method, uri, header, body, read)
	}
	var c *stepConn
	select {
	case c = <-s.free:
	case <-ctx.Done():
		return errTimeout
	}
	defer func() { s.free <- c }()
	c.req = appendRequest(c.req[:0], method, uri, s.host, header, body)
	a, err := c.raw.roundTrip(ctx, c.req, &c.body)
	if err != nil {
		return stepKind(ctx, err)
	}
	return read(a, c.body.Bytes())
}

func (s *stepClient) doHTTP(ctx context.Context, method, uri string, header http.Header, body []byte, read func(a answer, body []byte) string) string {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+uri, rd)
	if err != nil {
		return stepKind(ctx, err)
	}
	if header != nil {
		req.Header = header
	}
	res, err := s.c.Do(req)
	if err != nil {
		return stepKind(ctx, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return stepKind(ctx, err)
	}
	return read(answer{status: res.StatusCode, location: res.Header.Get("Location")}, b)
}

// close closes the raw connections.
func (s *stepClient) close() {
	if s.free == nil {
		return
	}
	for range cap(s.free) {
		c := <-s.free
		c.raw.close()
	}
}
