package server_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/quietport"
)

// restartable is an upstream that can restart on its address, closing
// every connection it has, the idle ones the proxy keeps included.
type restartable struct {
	t       *testing.T
	addr    string
	handler http.Handler
	srv     *http.Server
}

func (u *restartable) start() {
	u.t.Helper()
	listen := func() (net.Listener, error) { return net.Listen("tcp", u.addr) }
	if u.addr == "" {
		listen = quietport.Listen // restart listens on this port again
	}
	ln, err := listen()
	if err != nil {
		u.t.Fatalf("listening on %s: %v", u.addr, err)
	}
	u.addr = ln.Addr().String()
	srv := &http.Server{Handler: u.handler}
	u.srv = srv
	go func() { _ = srv.Serve(ln) }()
	u.t.Cleanup(func() { _ = srv.Close() })
}

func (u *restartable) restart() {
	_ = u.srv.Close()
	u.start()
}

// TestHTTPProxyUpstreamRestart: when the upstream restarts, closing the
// connections the proxy keeps, every GET after it is answered, on both of
// the lane's ways: the first request to find a kept connection closed is
// sent again on a new one, and the connections kept as long or longer
// are dropped with it, so that no request after it meets one; and a
// kept connection already seen closed is not used at all, so a POST
// right after the restart is answered too. Before, each request took one
// of them, and one sent again on another closed one failed: with eight
// kept, four 502s in a row (and the POST's 502).
func TestHTTPProxyUpstreamRestart(t *testing.T) {
	const kept = 8
	var arrived sync.WaitGroup
	var release chan struct{}
	up := &restartable{t: t, handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("hold") != "" {
			arrived.Done()
			<-release
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok")
	})}
	up.start()
	lp := newLaneProxy(t, &httptest.Server{URL: "http://" + up.addr}, "")
	// fill makes the proxy keep that many connections to the upstream: as
	// many calls at once, each on a client connection of its own (the
	// general way).
	fill := func() {
		t.Helper()
		arrived.Add(kept)
		release = make(chan struct{})
		var calls sync.WaitGroup
		for range kept {
			calls.Go(func() {
				c, br := lp.dial(t)
				if res, body := lp.get(t, c, br, "/items?hold=1"); res.StatusCode != http.StatusOK || body != "ok" {
					t.Errorf("held call: %d %q", res.StatusCode, body)
				}
			})
		}
		arrived.Wait()
		close(release)
		calls.Wait()
	}

	// The raw way: the requests after the first on the client's kept
	// connection.
	kc, kbr := lp.dial(t)
	if res, _ := lp.get(t, kc, kbr, "/items"); res.StatusCode != http.StatusOK {
		t.Fatalf("first call: %d", res.StatusCode)
	}
	fill()
	up.restart()
	// A POST first: it may not be sent again, so it must not meet a
	// closed connection at all (the idle check sees the upstream's close).
	post := "POST " + lp.path + "/items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + lp.token + "\r\nContent-Length: 2\r\n\r\n{}"
	if _, err := kc.Write([]byte(post)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(kbr, nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Errorf("raw way, a POST after the restart: %d %q", res.StatusCode, body)
	}
	for i := range kept {
		if res, body := lp.get(t, kc, kbr, "/items"); res.StatusCode != http.StatusOK || body != "ok" {
			t.Errorf("raw way, call %d after the restart: %d %q", i+1, res.StatusCode, body)
		}
	}
	if ways := laneWays(t, lp.s); ways["raw"] < kept {
		t.Errorf("the lane's ways %v: want %d raw", ways, kept)
	}

	// The general way: a client connection per call.
	fill()
	up.restart()
	for i := range kept {
		c, br := lp.dial(t)
		if res, body := lp.get(t, c, br, "/items"); res.StatusCode != http.StatusOK || body != "ok" {
			t.Errorf("general way, call %d after the restart: %d %q", i+1, res.StatusCode, body)
		}
		_ = c.Close()
	}
}
