package proxy_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/proxy"
)

// TestLaneClientGoneEndsExchange: a client that goes away while the
// upstream has not answered ends the exchange (the upstream's connection
// is closed) long before the proxy's own bound (55 s), whichever way its
// request took: the general way (a connection's first request, and a
// body that streams) and the raw way. Before, the exchange lived on until
// the upstream answered or the bound.
func TestLaneClientGoneEndsExchange(t *testing.T) {
	held := make(chan struct{}, 4)
	ended := make(chan error, 4)
	upstream := proxy.RawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				return
			}
			if strings.HasSuffix(req.URL.Path, "/hold") {
				// Never answered: what ends the wait is the proxy closing the
				// connection (EOF), or the upstream's own 20 s deadline.
				held <- struct{}{}
				_, err := br.ReadByte()
				ended <- err
				return
			}
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
		}
	})
	// A RetryBody of 16: the POST's body of 100 bytes streams (the general
	// way, its reader on the client connection while the lane waits).
	ls := newLaneServer(t, upstream+"/api", func(l *proxy.Lane) { proxy.Reconfigure(l, 16, nil) })
	for _, way := range []string{"general", "raw", "streamed"} {
		c, br := ls.dial(t)
		if way != "general" {
			if a := roundTrip(t, c, br, ls.head(http.MethodGet, "/first")); a.status != http.StatusOK || a.body != "ok" {
				t.Fatalf("%s way: first: %d %q", way, a.status, a.body)
			}
		}
		req := ls.head(http.MethodGet, "/hold")
		if way == "streamed" {
			req = ls.head(http.MethodPost, "/hold", "Content-Type: text/plain", "Content-Length: 100") + strings.Repeat("b", 100)
		}
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		select {
		case <-held:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s way: the upstream did not get the request", way)
		}
		gone := time.Now()
		_ = c.Close()
		select {
		case err := <-ended:
			if err != io.EOF {
				t.Errorf("%s way: the upstream's connection ended with %v, want the proxy's close (EOF)", way, err)
			}
			t.Logf("%s way: exchange ended %v after the client went", way, time.Since(gone).Round(time.Millisecond))
		case <-time.After(15 * time.Second):
			t.Fatalf("%s way: the exchange outlived its client by 15 s", way)
		}
	}
}

// TestLaneSlowUpstreamClientStays: the watcher's look at a client whose
// exchange is slow does not end it while the client is there, nor when
// it has sent its next request already (pipelined: bytes wait on the
// connection, peeked, not taken).
func TestLaneSlowUpstreamClientStays(t *testing.T) {
	upstream := proxy.RawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body := "ok"
			if strings.HasSuffix(req.URL.Path, "/slow") {
				// Slower than four of the watcher's looks at the client.
				time.Sleep(time.Second)
				body = "slow"
			}
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "+
				string(rune('0'+len(body)))+"\r\n\r\n"+body); err != nil {
				return
			}
		}
	})
	ls := newLaneServer(t, upstream+"/api", nil)
	c, br := ls.dial(t)
	if a := roundTrip(t, c, br, ls.head(http.MethodGet, "/slow")); a.status != http.StatusOK || a.body != "slow" {
		t.Fatalf("general way: %d %q", a.status, a.body)
	}
	if a := roundTrip(t, c, br, ls.head(http.MethodGet, "/slow")); a.status != http.StatusOK || a.body != "slow" {
		t.Fatalf("raw way: %d %q", a.status, a.body)
	}
	if _, err := io.WriteString(c, ls.head(http.MethodGet, "/slow")+ls.head(http.MethodGet, "/next")); err != nil {
		t.Fatal(err)
	}
	if a := readAnswer(t, br); a.status != http.StatusOK || a.body != "slow" {
		t.Fatalf("pipelined: %d %q", a.status, a.body)
	}
	if a := readAnswer(t, br); a.status != http.StatusOK || a.body != "ok" {
		t.Fatalf("pipelined, next: %d %q", a.status, a.body)
	}
}
