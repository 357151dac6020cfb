package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRawConnAnswers sends, on one rawConn each, requests whose answers take
// every shape net/http's server gives them, and checks status, body and
// that the connection is reused unless the server closes it.
func TestRawConnAnswers(t *testing.T) {
	big := strings.Repeat("x", 100_000)
	var conns atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Write([]byte("got " + r.Method + " " + string(body) + " " + r.Header.Get("Authorization")))
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("part1,"))
		w.(http.Flusher).Flush()
		w.Write([]byte("part2"))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(big)) })
	mux.HandleFunc("/none", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/close", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("bye"))
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	cases := []struct {
		path, method, body string
		status             int
		want               string
		newConns           int64 // over three requests
	}{
		{"/small", http.MethodPost, "a=b", 200, "got POST a=b Basic eA==", 1},
		{"/small?q=1", http.MethodGet, "", 200, "got GET  Basic eA==", 1},
		{"/chunked", http.MethodGet, "", 200, "part1,part2", 1},
		{"/big", http.MethodGet, "", 200, big, 1},
		{"/none", http.MethodGet, "", 204, "", 1},
		{"/close", http.MethodGet, "", 418, "bye", 3},
	}
	for _, tc := range cases {
		tg := target{method: tc.method, url: srv.URL + tc.path, header: http.Header{"Authorization": {"Basic eA=="}}}
		if tc.body != "" {
			tg.body = []byte(tc.body)
		}
		dial, err := newConnFunc(transportRaw, nil, tg, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c := dial()
		before := conns.Load()
		var buf bytes.Buffer
		for range 3 {
			status, err := c.do(t.Context(), &buf)
			if err != nil || status != tc.status || buf.String() != tc.want {
				t.Errorf("%s: %d %.40q %v; want %d %.40q", tc.path, status, buf.String(), err, tc.status, tc.want)
			}
		}
		c.close()
		if got := conns.Load() - before; got != tc.newConns {
			t.Errorf("%s: %d connections for three requests, want %d", tc.path, got, tc.newConns)
		}
	}
}

func TestReadResponse(t *testing.T) {
	cases := []struct {
		raw    string
		status int
		body   string
		keep   bool
		err    bool
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", 200, "hi", true, false},
		{"HTTP/1.1 503 Busy\r\ncontent-length: 0\r\nConnection: Close\r\n\r\n", 503, "", false, false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n1\r\nd\r\n0\r\nTrailer: x\r\n\r\n", 200, "abcd", true, false},
		{"HTTP/1.0 200 OK\r\n\r\nuntil the end", 200, "until the end", false, false},
		{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", 200, "x", false, false},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhi", 200, "hi", false, true},
		{"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 200, "", false, true},
		{"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", 200, "", false, true},
		{"SSH-2.0-OpenSSH_9.2\r\n", 0, "", false, true},
		{"HTTP/1.1 2x0 OK\r\n\r\n", 0, "", false, true},
		{"", 0, "", false, true},
	}
	for _, tc := range cases {
		var buf bytes.Buffer
		status, keep, err := readResponse(bufio.NewReader(strings.NewReader(tc.raw)), &buf)
		if status != tc.status || keep != tc.keep || (err != nil) != tc.err || (!tc.err && buf.String() != tc.body) {
			t.Errorf("%q: %d %v %v %q; want %d %v err %v %q", tc.raw, status, keep, err, buf.String(), tc.status, tc.keep, tc.err, tc.body)
		}
	}
}

func TestRawConnStopsWithContext(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts and never answers
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c := &rawConn{addr: ln.Addr().String(), req: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), timeout: time.Minute}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	var buf bytes.Buffer
	_, err = c.do(ctx, &buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || time.Since(start) > 5*time.Second {
		t.Errorf("err %v after %v; want a timeout at cancel", err, time.Since(start))
	}
	if c.nc != nil {
		t.Error("a failed connection was kept")
	}
}

// TestAppendRequest: a step's request is the bytes rawRequest writes for
// the same target, with a body and without (one header each: a map's
// order is not fixed).
func TestAppendRequest(t *testing.T) {
	u, _ := url.Parse("http://127.0.0.1:8080/v1/oauth/token?x=1")
	for _, tg := range []target{
		{method: http.MethodPost, url: u.String(), header: http.Header{"Authorization": {"Basic YTpi"}}, body: []byte("grant_type=refresh_token&refresh_token=x")},
		{method: http.MethodGet, url: u.String(), header: http.Header{"Cookie": {"a=b; c=d"}}},
		{method: http.MethodPost, url: u.String(), header: http.Header{}, body: []byte{}},
	} {
		got := appendRequest([]byte("left over"), tg.method, u.RequestURI(), u.Host, tg.header, tg.body)
		if want := append([]byte("left over"), rawRequest(tg, u)...); string(got) != string(want) {
			t.Errorf("appendRequest:\n%q\nrawRequest:\n%q", got, want)
		}
	}
}
