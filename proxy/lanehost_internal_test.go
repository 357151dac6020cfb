package proxy

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/webhooks"
)

// TestSendRawHostLikeWrite (review h2, item 4): the raw way sends the
// Host field the general way's writer sends for the same base_url: an
// IDN's ASCII (punycode) form (it sent an empty Host), a host without
// its IPv6 zone (it sent the zone). Such base_urls are refused at the
// credential's creation unless a hosts file resolves them
// (TestLaneIDNBaseURLRefused); the upstream here is reached at its
// address whatever the host.
func TestSendRawHostLikeWrite(t *testing.T) {
	hosts := make(chan string, 1)
	upstream, _ := rawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		tp := textproto.NewReader(br)
		for {
			fields, err := headFields(tp)
			if err != nil {
				return
			}
			host := "(none)"
			for _, line := range fields {
				if v, ok := strings.CutPrefix(line, "Host: "); ok {
					host = v
				}
			}
			hosts <- host
			_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
		}
	})
	addr := strings.TrimPrefix(upstream, "http://")
	p := New(Config{Transport: webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: true}).Transport})
	lc := &laneConn{l: &Lane{p: p}}
	var h rawHead
	if !h.parse([]byte("GET /v1/proxy/c/items?x=1 HTTP/1.1\r\nHost: gatehouse.test\r\n\r\n")) {
		t.Fatal("not a raw head")
	}
	for _, base := range []string{"http://bücher.test:8080/api", "http://BÜCHER.test/api", "http://[fe80::1%25en0]:8080/api", "http://api.example.com/api"} {
		b, rest, err := targetOf(base, h.path)
		if err != nil {
			t.Fatal(err)
		}
		cl := &call{base: b, rest: rest, query: h.query, token: "tok"}
		c, _, err := p.h1.get(t.Context(), addr, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		a, err := lc.sendRaw(c, &h, nil, cl, "Authorization", "Bearer tok")
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		raw := <-hosts
		a.drop(p.h1, addr, c)

		target, err := b.join(rest, h.query)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		if err := writeRequest(bw, &http.Request{Method: http.MethodGet, URL: target, Header: http.Header{}}); err != nil {
			t.Fatal(err)
		}
		_ = bw.Flush()
		general := "(none)"
		for line := range strings.SplitSeq(out.String(), "\r\n") {
			if v, ok := strings.CutPrefix(line, "Host: "); ok {
				general = v
			}
		}
		if raw != general || raw == "" {
			t.Errorf("%s: Host %q the raw way, %q the general way", base, raw, general)
		}
	}
}
