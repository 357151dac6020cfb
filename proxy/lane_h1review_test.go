package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/proxy"
)

// The lane's review (h1): request smuggling, response splitting and
// connection desynchronization, both sides.

// scriptedUpstream answers /api/s/{name} with script[name] as bytes (and
// closes the connection when the script ends in "<close>"), anything
// else with "ok {target}".
func scriptedUpstream(t *testing.T, script map[string]string) string {
	t.Helper()
	return proxy.RawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			if name, ok := strings.CutPrefix(req.URL.Path, "/api/s/"); ok {
				s, closing := strings.CutSuffix(script[name], "<close>")
				_, _ = io.WriteString(c, s)
				if closing {
					return
				}
				continue
			}
			body := "ok " + req.RequestURI
			_, _ = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		}
	})
}

// TestLaneStatusBelow100NotInformational (review h1): an answer whose
// status code is below 100 ("HTTP/1.1 099") is not an informational
// answer to skip: the proxy's transport read its body as the next
// answer (the client was answered with bytes the upstream sent as a
// body: a response splitting), or waited for one until its timeout.
// It is refused as malformed (502), whichever way the request takes,
// and the next request is answered in step.
func TestLaneStatusBelow100NotInformational(t *testing.T) {
	inner := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\nsmuggled"
	api := scriptedUpstream(t, map[string]string{
		"099": fmt.Sprintf("HTTP/1.1 099 Odd\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(inner), inner),
	})
	ls := newLaneServer(t, api+"/api", nil)
	c, br := ls.dial(t)
	for _, way := range [][]string{{"Cookie: a=1"}, nil} { // the general way, then the raw way
		if a := roundTrip(t, c, br, ls.head(http.MethodGet, "/s/099", way...)); a.status != http.StatusBadGateway {
			t.Errorf("%q: %d %q, want 502", way, a.status, a.body)
		}
		if a := roundTrip(t, c, br, ls.head(http.MethodGet, "/ok", way...)); a.status != http.StatusOK || a.body != "ok /api/ok" {
			t.Errorf("%q: after: %d %q", way, a.status, a.body)
		}
	}
}

// TestProxySwitchingProtocolsClosed (review h1): an upstream's 101
// Switching Protocols (to a request with Upgrade, which the reverse
// proxy sends) is answered 502 and its connection closed: the reverse
// proxy refused it (its body, bounded, is no connection to switch to)
// and left the connection open, one for each such answer until the
// upstream closed it.
func TestProxySwitchingProtocolsClosed(t *testing.T) {
	closed := make(chan struct{}, 4)
	api := proxy.RawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		if _, err := br.ReadByte(); err == io.EOF {
			closed <- struct{}{}
		}
	})
	ls := newLaneServer(t, api+"/api", nil)
	c, br := ls.dial(t)
	a := roundTrip(t, c, br, ls.head(http.MethodGet, "/ws", "Connection: Upgrade", "Upgrade: websocket"))
	if a.status != http.StatusBadGateway {
		t.Errorf("%d %q, want 502", a.status, a.body)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Error("the upstream's connection is still open 5 s after the 502")
	}
}

// TestProxyStatusBelow100ReverseProxy (review h1): the reverse proxy's
// way (here a body longer than the proxy's own client takes) refuses a
// status below 100 as malformed too (502), as the proxy's own client
// does: net/http's transport returns it as a final answer, whose
// WriteHeader panicked (a 500 and a logged panic).
func TestProxyStatusBelow100ReverseProxy(t *testing.T) {
	api := scriptedUpstream(t, map[string]string{"099": "HTTP/1.1 099 Odd\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nno"})
	ls := newLaneServer(t, api+"/api", nil)
	c, br := ls.dial(t)
	body := strings.Repeat("b", 5000)
	if a := roundTrip(t, c, br, ls.head(http.MethodPost, "/s/099", "Content-Type: text/plain", "Content-Length: 5000")+body); a.status != http.StatusBadGateway {
		t.Errorf("%d %q, want 502", a.status, a.body)
	}
}

// TestProxyInformationalThroughEcho (review h1): a request the lane does
// not take (here a body longer than 4 KiB) whose upstream sends an
// informational answer first gets the upstream's final status, and the
// X-Request-Id every answer carries: echo's response took the 1xx for
// its status (committed, so the final WriteHeader was dropped and the
// answer went out as a 200: an upstream 404 read 200, a failed exchange
// an empty 200 instead of a 502), and the reverse proxy's clearing of
// the header after the 1xx took the edge's X-Request-Id with it.
func TestProxyInformationalThroughEcho(t *testing.T) {
	api := scriptedUpstream(t, map[string]string{
		"404":    "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nnope",
		"broken": "HTTP/1.1 102 Processing\r\n\r\nnot an answer\r\n\r\n<close>",
	})
	ls := newLaneServer(t, api+"/api", nil)
	body := strings.Repeat("b", 5000)
	for name, want := range map[string]int{"404": http.StatusNotFound, "broken": http.StatusBadGateway} {
		c, br := ls.dial(t)
		a := roundTrip(t, c, br, ls.head(http.MethodPost, "/s/"+name, "Content-Type: text/plain", "Content-Length: 5000")+body)
		if a.status != want || len(a.informational) != 1 || a.header.Get("X-Request-Id") == "" {
			t.Errorf("%s: %d %v %q after %d informational answers, want %d with an X-Request-Id", name, a.status, a.header, a.body, len(a.informational), want)
		}
	}
}
