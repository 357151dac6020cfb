package proxy

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/webhooks"
)

// BenchmarkRawUpstreamExchange is the raw way's exchange with an
// upstream on a kept connection, as forwardRaw makes it: a connection
// from the pool (get), the request written and the answer's head read
// (sendRaw), its body read and the connection given back (drop). Its
// allocations and system calls are the raw way's upstream side per
// request.
func BenchmarkRawUpstreamExchange(b *testing.B) {
	answer := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")
	upstream, _ := rawUpstream(b, func(c net.Conn, br *bufio.Reader) {
		for {
			// A head without a body: through its empty line.
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) <= 2 {
					break
				}
			}
			if _, err := c.Write(answer); err != nil {
				return
			}
		}
	})
	addr := strings.TrimPrefix(upstream, "http://")
	p := New(Config{Transport: webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: true}).Transport})
	lc := &laneConn{l: &Lane{p: p}}
	var h rawHead
	if !h.parse([]byte("GET /v1/proxy/c/items?x=1 HTTP/1.1\r\nHost: gatehouse.test\r\nAccept: application/json\r\n\r\n")) {
		b.Fatal("not a raw head")
	}
	base, rest, err := targetOf("http://"+addr+"/api", h.path)
	if err != nil {
		b.Fatal(err)
	}
	cl := &call{base: base, rest: rest, query: h.query, token: "tok"}
	t := p.h1
	b.ReportAllocs()
	for b.Loop() {
		c, _, err := t.get(b.Context(), addr, time.Time{})
		if err != nil {
			b.Fatal(err)
		}
		t.watch.start(c, b.Context(), time.Time{})
		a, err := lc.sendRaw(c, &h, nil, cl, "Authorization", "Bearer tok")
		if err != nil || a.status != 200 {
			b.Fatal(a.status, err)
		}
		a.drop(t, addr, c)
	}
}
