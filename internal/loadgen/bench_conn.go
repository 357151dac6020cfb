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
	if err := c.dial(ctx); err != nil {
		return 0, err
	}
	if err := c.nc.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		c.close()
		return 0, err
	}
	if _, err := c.nc.Write(c.req); err != nil {
		c.close()
		return 0, err
	}
	status, keep, err := readResponse(c.br, buf)
	if err != nil || !keep {
		c.close()
	}
	return status, err
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
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, errBadResponse
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, errBadResponse
	}
	http10 := line[7] == '0'
	h, err := readHeader(br)
	if err != nil {
		return status, false, err
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
	return status, err == nil && !h.close && !http10, err
}

// respHeader is what readResponse needs of a header.
type respHeader struct {
	length  int64 // -1: no Content-Length
	chunked bool
	close   bool
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
