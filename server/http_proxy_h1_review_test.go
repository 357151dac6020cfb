package server_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// rawUpstream is an upstream API that records the bytes of every request
// it reads (head, body and trailers, as they came), and answers each
// "ok".
type rawUpstream struct {
	url  string
	mu   sync.Mutex
	reqs []string
}

// teeConn keeps what is read from its connection.
type teeConn struct {
	net.Conn
	buf bytes.Buffer
}

func (c *teeConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.buf.Write(b[:n])
	return n, err
}

func newRawUpstream(t *testing.T) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{url: "http://" + ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				tc := &teeConn{Conn: c}
				br := bufio.NewReader(tc)
				for {
					r, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, r.Body)
					n := tc.buf.Len() - br.Buffered()
					u.mu.Lock()
					u.reqs = append(u.reqs, string(tc.buf.Next(n)))
					u.mu.Unlock()
					if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"); err != nil {
						return
					}
				}
			}()
		}
	}()
	return u
}

// take returns the requests recorded since the last take.
func (u *rawUpstream) take() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	r := u.reqs
	u.reqs = nil
	return r
}

// exchange writes msg on a new connection and reads n answers, which must
// all be 200 "ok"; it returns what the upstream was sent meanwhile.
func (lp laneProxy) exchange(t *testing.T, up *rawUpstream, msg string, n int) []string {
	t.Helper()
	c, br := lp.dial(t)
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i+1, err)
		}
		b, err := io.ReadAll(res.Body)
		if err != nil || res.StatusCode != http.StatusOK || string(b) != "ok" {
			t.Fatalf("answer %d: %d %q %v", i+1, res.StatusCode, b, err)
		}
	}
	_ = c.Close()
	return up.take()
}

// TestHTTPProxyForwardingFieldsNotForwarded: no X-Forwarded-* field of
// the caller, nor its X-Real-Ip, reaches the upstream, whichever way the
// request takes (the lane's raw way, the proxy's own forwarder, the
// reverse proxy for a body over 4 KiB): the reverse proxy's Rewrite mode
// strips X-Forwarded-For, -Host and -Proto only, and -Port, -Prefix,
// -Server, -Ssl and X-Real-Ip, which an upstream trusting Gatehouse as its
// proxy builds its links and client addresses from, went through, and so
// did every such name spelt with "_" (X_Forwarded_Host: the same
// HTTP_X_FORWARDED_HOST to a CGI, WSGI or PHP upstream).
func TestHTTPProxyForwardingFieldsNotForwarded(t *testing.T) {
	up := newRawUpstream(t)
	lp := newLaneProxy(t, &httptest.Server{URL: up.url}, "")
	spoofed := "X-Forwarded-Port: 1\r\nX-Forwarded-Prefix: /evil\r\nx-forwarded-server: evil\r\nX-FORWARDED-SSL: on\r\n" +
		"X-Forwarded-: x\r\nX-Real-IP: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nX_Forwarded_Host: evil\r\nx_real_ip: 10.0.0.3\r\n" +
		"X-Kept: yes\r\n"
	get := func(path string) string {
		return "GET " + lp.path + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + lp.token + "\r\n" + spoofed + "\r\n"
	}
	big := strings.Repeat("b", 5<<10)
	post := "POST " + lp.path + "/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + lp.token + "\r\n" + spoofed +
		fmt.Sprintf("Content-Length: %d\r\n\r\n", len(big)) + big
	// The first request through echo (the proxy's forwarder), the second
	// in the lane (raw), a third with a cookie (the lane's general way),
	// and the large body through the reverse proxy.
	seen := lp.exchange(t, up, get("/general")+get("/raw")+strings.Replace(get("/lane"), "X-Kept", "Cookie: a=b\r\nX-Kept", 1), 3)
	seen = append(seen, lp.exchange(t, up, post, 1)...)
	if len(seen) != 4 {
		t.Fatalf("the upstream got %d requests, want 4", len(seen))
	}
	for _, raw := range seen {
		head, _, _ := strings.Cut(raw, "\r\n\r\n")
		low := strings.ToLower(head)
		low = strings.ReplaceAll(low, "_", "-")
		if strings.Contains(low, "x-forwarded") || strings.Contains(low, "x-real-ip") || !strings.Contains(head, "X-Kept: yes") {
			t.Errorf("the upstream was sent:\n%s", head)
		}
	}
}

// TestHTTPProxyRequestTrailersFiltered: a caller's request trailers are
// held to the header's rules: none carries Gatehouse's bearer token
// (Authorization), the credential's header, a forwarding field, a cookie
// or a framing field to the upstream; the others pass. They went through
// as sent (the proxy's forwarder wrote the request with req.Write, its
// trailers included), so the caller's Gatehouse token, sent again in a
// trailer, reached the upstream.
func TestHTTPProxyRequestTrailersFiltered(t *testing.T) {
	up := newRawUpstream(t)
	for _, tmpl := range []string{"", "X-Api-Key: {token}"} {
		lp := newLaneProxy(t, &httptest.Server{URL: up.url}, tmpl)
		chunked := func(body, more string) string {
			return "POST " + lp.path + "/trailers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + lp.token + "\r\n" +
				"Transfer-Encoding: chunked\r\nTrailer: Authorization, X-Api-Key, X-T\r\n\r\n" +
				fmt.Sprintf("%x\r\n%s\r\n0\r\n", len(body), body) +
				"Authorization: Bearer " + lp.token + "\r\nX-Api-Key: callers-own\r\nX-Forwarded-For: 10.0.0.1\r\n" +
				"Cookie: gh_session=s\r\nX-Request-Id: smuggled\r\n" + more + "X-T: kept\r\n\r\n"
		}
		// A small body (held in memory: the proxy's forwarder) and one
		// over the 1 MiB kept for a retry (streamed: the reverse proxy);
		// a trailer naming a framing field (which req.Write refused: the
		// exchange failed, 502 "unreachable").
		for _, body := range []string{"abc", strings.Repeat("s", 1<<20+10), "framing"} {
			more := ""
			if body == "framing" {
				more = "Content-Length: 99\r\n"
			}
			seen := lp.exchange(t, up, chunked(body, more), 1)
			if len(seen) != 1 {
				t.Fatalf("template %q, body of %d: the upstream got %d requests", tmpl, len(body), len(seen))
			}
			_, trailers, _ := strings.Cut(seen[0], body)
			bads := []string{lp.token, "10.0.0.1", "gh_session", ": 99", "smuggled"}
			if tmpl != "" {
				bads = append(bads, "callers-own") // the credential's header
			}
			for _, bad := range bads {
				if strings.Contains(seen[0], bad) {
					t.Errorf("template %q, body of %d: the upstream was sent %q; trailers:\n%s", tmpl, len(body), bad, trailers)
				}
			}
			if len(body) < 10 && !strings.Contains(trailers, "X-T: kept") {
				t.Errorf("template %q: the trailer X-T was not forwarded:\n%s", tmpl, trailers)
			}
		}
	}
}

// TestHTTPProxyFragmentInQueryRefused: a request target with a '#' after
// its '?' (which net/http's server takes into the query) is refused 400
// and nothing is sent: the upstream was sent "GET /api/a?b#/../c", a
// request target no HTTP/1.1 request may have (RFC 9112 section 3.2). The
// first request of a connection goes through echo, the second is the
// lane's (the raw way sends a '#' to the general way).
func TestHTTPProxyFragmentInQueryRefused(t *testing.T) {
	up := newRawUpstream(t)
	lp := newLaneProxy(t, &httptest.Server{URL: up.url}, "")
	var c net.Conn
	var br *bufio.Reader
	for _, target := range []string{"/a?b#/../c", "/a?#x", "/a?q=1#"} {
		c, br = lp.dial(t)
		for _, way := range []string{"echo", "lane"} {
			res, body := lp.get(t, c, br, target)
			if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "validation_error") || !strings.Contains(body, "'#'") {
				t.Errorf("%s %s: %d %s", way, target, res.StatusCode, body)
			}
		}
	}
	if res, body := lp.get(t, c, br, "/a?b=%23"); res.StatusCode != http.StatusOK || body != "ok" {
		t.Errorf("an escaped '#': %d %s", res.StatusCode, body)
	}
	if seen := up.take(); len(seen) != 1 || !strings.HasPrefix(seen[0], "GET /api/a?b=%23 ") {
		t.Errorf("the upstream was sent %q", seen)
	}
}
