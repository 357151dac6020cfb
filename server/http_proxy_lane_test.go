package server_test

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// laneUpstream is an upstream API recording what it was sent: each
// request's method, URI, headers and body, as one text.
type laneUpstream struct {
	mu     sync.Mutex
	seen   []string
	tokens []string // the Authorization of each request
	// refuse is the token /once refuses (the first it sees).
	refuse string
}

func (u *laneUpstream) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var b strings.Builder
		b.WriteString(r.Method + " " + r.RequestURI + " " + strconv.Quote(string(body)) + "\n")
		for _, n := range slices.Sorted(maps.Keys(r.Header)) {
			b.WriteString(n + ": " + strings.Join(r.Header[n], " | ") + "\n")
		}
		u.mu.Lock()
		u.seen = append(u.seen, b.String())
		u.tokens = append(u.tokens, r.Header.Get("Authorization"))
		first := u.refuse == ""
		if first && r.URL.Path == "/api/once" {
			u.refuse = r.Header.Get("Authorization")
		}
		refused := r.URL.Path == "/api/once" && r.Header.Get("Authorization") == u.refuse
		u.mu.Unlock()
		h := w.Header()
		switch r.URL.Path {
		case "/api/once":
			if refused {
				h.Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"error":"invalid_token"}`)
				return
			}
		case "/api/stream":
			h.Set("Trailer", "X-Sum")
			h.Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, "data: 1\n\n")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "data: 2\n\n")
			h.Set("X-Sum", "3")
			return
		case "/api/sniff":
			h["Content-Type"] = nil // no type: the proxy's server sniffs it
			_, _ = io.WriteString(w, "plain words")
			return
		case "/api/origin":
			h.Set("Set-Cookie", "gh_session=planted")
			h.Set("Access-Control-Allow-Origin", "*")
			h.Set("Strict-Transport-Security", "max-age=1")
		}
		h.Set("Connection", "X-Hop")
		h.Set("X-Hop", "dropped")
		h.Set("X-Upstream", "kept")
		h.Add("X-Multi", "a")
		h.Add("X-Multi", "b")
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(append([]byte(`{"path":"`+r.URL.Path+`","body":`), append(strconv.AppendQuote(nil, string(body)), '}')...))
	})
}

func (u *laneUpstream) last() (string, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		return "", 0
	}
	return u.seen[len(u.seen)-1], len(u.seen)
}

// laneClient is one keep-alive connection's client, noting whether each
// request reused it.
type laneClient struct {
	c      *http.Client
	reused []bool
}

func newLaneClient() *laneClient {
	tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true}
	return &laneClient{c: &http.Client{Transport: tr}}
}

type laneAnswer struct {
	status  int
	header  http.Header
	body    string
	trailer http.Header
}

func (lc *laneClient) do(t *testing.T, method, url string, body []byte, header http.Header) laneAnswer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req = req.WithContext(httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { lc.reused = append(lc.reused, i.Reused) },
	}))
	res, err := lc.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return laneAnswer{status: res.StatusCode, header: res.Header, body: string(b), trailer: res.Trailer}
}

// laneWays reads the lane's counters from /metrics.
func laneWays(t *testing.T, s *servertest.Server) map[string]int {
	t.Helper()
	r := want(t, s.Do(http.MethodGet, "/metrics", "", nil), http.StatusOK)
	out := map[string]int{}
	for _, m := range regexp.MustCompile(`gatehouse_proxy_lane_total\{event="(\w+)"\} (\d+)`).FindAllStringSubmatch(string(r.Body), -1) {
		out[m[1]], _ = strconv.Atoi(m[2])
	}
	return out
}

// TestHTTPProxyLane (issue 16, the proxy's throughput): the proxy's
// connections are served by its lane, outside net/http's server and echo
// (proxy.Lane): the first proxied request of a connection through echo,
// which hands the connection over, the plain ones after it the raw way,
// the others the general way (http.ReadRequest, Proxy.handle), and what
// is not the proxy's is handed back to net/http with the connection,
// which stays open throughout. Every request shape is answered the raw
// way exactly as the general way answers it: same status, headers (but
// Date and the request id), body and trailers, and the upstream is sent
// the same request. Refusals are the contract's problems; an upstream 401
// is retried once with a refreshed token; a body the lane does not take
// streams through net/http.
func TestHTTPProxyLane(t *testing.T) {
	upstream := &laneUpstream{}
	api := httptest.NewServer(upstream.handler())
	t.Cleanup(api.Close)
	lp := newLaneProxy(t, api, "")
	s, tok := lp.s, lp.token
	bearer := http.Header{"Authorization": {"Bearer " + tok}}
	with := func(kv ...string) http.Header {
		h := bearer.Clone()
		for i := 0; i+1 < len(kv); i += 2 {
			h[kv[i]] = append(h[kv[i]], kv[i+1])
		}
		return h
	}
	proxied := s.URL + lp.path

	// Each shape twice: first on a connection of its own (the general
	// way: echo hands the connection over with it), then on a kept one
	// (the raw way, or the general way for what the raw way leaves).
	kept := newLaneClient()
	kept.do(t, http.MethodGet, proxied+"/warm", nil, bearer)
	shapes := []struct {
		name, method, path string
		body               []byte
		header             http.Header
		raw                bool
	}{
		{"get", http.MethodGet, "/items?a=1&b=two", nil, bearer, true},
		{"post", http.MethodPost, "/items", []byte(`{"name":"x"}`), with("X-Custom", "v", "Accept", "application/json", "Accept", "text/plain",
			"X-Forwarded-For", "10.0.0.1", "Forwarded", "for=10.0.0.1", "Proxy-Connection", "keep-alive", "X-Request-Id", "caller-id",
			"User-Agent", "integrator/1.0"), true},
		{"empty put", http.MethodPut, "/items/1", nil, bearer, true},
		{"delete", http.MethodDelete, "/items/1?force", nil, bearer, true},
		{"patch", http.MethodPatch, "/items/1", []byte(`[]`), with("Content-Type", "application/json-patch+json"), true},
		{"cookie", http.MethodGet, "/items", nil, with("Cookie", "gh_session=s; theirs=1; gh_csrf=c"), false},
		{"escaped", http.MethodGet, "/a%20b/c", nil, bearer, false},
		{"te", http.MethodGet, "/items", nil, with("Te", "trailers"), false},
		{"stream", http.MethodGet, "/stream", nil, bearer, true},
		{"sniffed", http.MethodGet, "/sniff", nil, bearer, true},
		{"origin", http.MethodGet, "/origin", nil, bearer, true},
	}
	for _, c := range shapes {
		before := laneWays(t, s)
		general := newLaneClient().do(t, c.method, proxied+c.path, c.body, c.header)
		sentGeneral, n := upstream.last()
		viaKept := kept.do(t, c.method, proxied+c.path, c.body, c.header)
		sentKept, m := upstream.last()
		after := laneWays(t, s)
		if m != n+1 {
			t.Fatalf("%s: the upstream saw %d requests, want 1", c.name, m-n)
		}
		if raw := after["raw"] - before["raw"]; raw != map[bool]int{true: 1}[c.raw] {
			t.Errorf("%s: %d raw requests, want raw %v (lane %v → %v)", c.name, raw, c.raw, before, after)
		}
		if sentGeneral != sentKept {
			t.Errorf("%s: the upstream was sent\n%s\nthe general way, and\n%s\non the kept connection", c.name, sentGeneral, sentKept)
		}
		if general.status != viaKept.status || general.body != viaKept.body {
			t.Errorf("%s: %d %q the general way, %d %q on the kept connection", c.name, general.status, general.body, viaKept.status, viaKept.body)
		}
		for _, h := range []http.Header{general.header, viaKept.header} {
			if h.Get("Date") == "" || h.Get("X-Request-Id") == "" {
				t.Errorf("%s: no Date or X-Request-Id in %v", c.name, h)
			}
			delete(h, "Date")
			delete(h, "X-Request-Id")
		}
		if !maps.EqualFunc(general.header, viaKept.header, slices.Equal) || !maps.EqualFunc(general.trailer, viaKept.trailer, slices.Equal) {
			t.Errorf("%s: headers %v trailers %v the general way,\n%v %v on the kept connection", c.name,
				general.header, general.trailer, viaKept.header, viaKept.trailer)
		}
		for _, leak := range []string{tok, "gh_session", "gh_csrf", "10.0.0.1", "caller-id", "Proxy-Connection"} {
			if strings.Contains(sentKept, leak) {
				t.Errorf("%s: %q reached the upstream:\n%s", c.name, leak, sentKept)
			}
		}
		if !strings.Contains(sentKept, "Authorization: Bearer ") {
			t.Errorf("%s: no provider token sent:\n%s", c.name, sentKept)
		}
	}
	// What the shapes were answered.
	post := kept.do(t, http.MethodPost, proxied+"/items", []byte(`{"name":"x"}`), with("X-Request-Id", "caller-id", "Accept", "a", "Accept", "b"))
	sent, _ := upstream.last()
	if post.status != http.StatusOK || post.header.Get("X-Request-Id") != "caller-id" || post.header.Get("X-Upstream") != "kept" ||
		!slices.Equal(post.header["X-Multi"], []string{"a", "b"}) || post.header.Get("X-Hop") != "" ||
		post.header.Get("Content-Security-Policy") == "" || post.header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(sent, `POST /api/items "{\"name\":\"x\"}"`) || !strings.Contains(sent, "Accept: a | b") {
		t.Errorf("post: %d %v %q, upstream saw\n%s", post.status, post.header, post.body, sent)
	}
	if st := kept.do(t, http.MethodGet, proxied+"/stream", nil, bearer); st.body != "data: 1\n\ndata: 2\n\n" || st.trailer.Get("X-Sum") != "3" ||
		st.status != http.StatusAccepted {
		t.Errorf("stream: %d %q trailer %v", st.status, st.body, st.trailer)
	}
	if sn := kept.do(t, http.MethodGet, proxied+"/sniff", nil, bearer); sn.header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("sniffed: %v", sn.header)
	}
	if o := kept.do(t, http.MethodGet, proxied+"/origin", nil, bearer); o.header.Get("Set-Cookie") != "" ||
		o.header.Get("Access-Control-Allow-Origin") != "" || o.header.Get("Strict-Transport-Security") != "" {
		t.Errorf("origin headers passed back: %v", o.header)
	}

	// Refusals, the contract's problems, on the kept connection.
	bad := kept.do(t, http.MethodGet, proxied+"/items", nil, http.Header{"Authorization": {"Bearer not-a-token"}})
	if bad.status != http.StatusUnauthorized || !strings.Contains(bad.header.Get("Content-Type"), "application/problem+json") ||
		bad.header.Get("WWW-Authenticate") == "" || !strings.Contains(bad.body, `"code":"unauthorized"`) {
		t.Errorf("bad token: %d %v %s", bad.status, bad.header, bad.body)
	}
	missing := kept.do(t, http.MethodGet, s.URL+"/v1/proxy/cred_missing/items", nil, bearer)
	if missing.status != http.StatusNotFound || !strings.Contains(missing.body, `"code":"not_found"`) {
		t.Errorf("unknown credential: %d %s", missing.status, missing.body)
	}
	climb := kept.do(t, http.MethodGet, proxied+"/a/../admin", nil, bearer)
	if climb.status != http.StatusBadRequest && climb.status != http.StatusNotFound {
		t.Errorf("dot segments: %d %s", climb.status, climb.body)
	}

	// An upstream 401: one refresh, one retry with the new token.
	_, before := upstream.last()
	once := kept.do(t, http.MethodGet, proxied+"/once", nil, bearer)
	_, after := upstream.last()
	upstream.mu.Lock()
	tokens := slices.Clone(upstream.tokens[before:after])
	upstream.mu.Unlock()
	if once.status != http.StatusOK || len(tokens) != 2 || tokens[0] == tokens[1] {
		t.Errorf("401 retry: %d %s, upstream tokens %q", once.status, once.body, tokens)
	}

	// What is not the proxy's goes back to net/http with the connection,
	// and the proxy takes it again; a body the lane does not take
	// streams through net/http.
	before2 := laneWays(t, s)
	if h := kept.do(t, http.MethodGet, s.URL+"/healthz", nil, nil); h.status != http.StatusOK {
		t.Errorf("healthz on the proxy's connection: %d", h.status)
	}
	kept.do(t, http.MethodGet, proxied+"/again", nil, bearer)
	kept.do(t, http.MethodGet, proxied+"/again", nil, bearer)
	large := bytes.Repeat([]byte("x"), 64<<10)
	if l := kept.do(t, http.MethodPost, proxied+"/large", large, bearer); l.status != http.StatusOK || !strings.Contains(l.body, strings.Repeat("x", 1000)) {
		t.Errorf("large body: %d %.80s", l.status, l.body)
	}
	kept.do(t, http.MethodGet, proxied+"/again", nil, bearer)
	after2 := laneWays(t, s)
	if after2["handed_back"]-before2["handed_back"] != 2 || after2["taken"]-before2["taken"] != 2 || after2["raw"]-before2["raw"] != 1 {
		t.Errorf("lane %v → %v: want two connections handed back and taken again, one raw request", before2, after2)
	}
	for i, r := range kept.reused[1:] {
		if !r {
			t.Fatalf("request %d of the kept client opened a new connection", i+2)
		}
	}
}
