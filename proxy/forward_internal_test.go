package proxy

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/webhooks"
)

// TestForwardLikeReverseProxy: the proxy's own forwarder sends upstream
// what the reverse proxy sends (method, path, query, body, headers: no
// hop-by-hop ones, none named by Connection, no X-Forwarded-*, no
// Gatehouse token, cookies or request id, the provider token injected,
// no User-Agent of Go's, Te: trailers kept) and gives the client what the
// reverse proxy gives (status, headers without hop-by-hop ones or
// Set-Cookie, the sandboxing CSP, the body, trailers), for a plain GET, a
// small POST, and an answer of unknown length with trailers.
func TestForwardLikeReverseProxy(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		names := slices.Sorted(maps.Keys(r.Header))
		var b strings.Builder
		b.WriteString(r.Method + " " + r.URL.RequestURI() + " " + string(body) + "\n")
		for _, n := range names {
			b.WriteString(n + ": " + strings.Join(r.Header[n], " | ") + "\n")
		}
		mu.Lock()
		seen = append(seen, b.String())
		mu.Unlock()
		h := w.Header()
		h.Set("Connection", "X-Hop")
		h.Set("X-Hop", "dropped")
		h.Set("Keep-Alive", "timeout=5")
		h.Set("Set-Cookie", "gh_session=evil")
		h.Set("X-Upstream", "kept")
		h.Set("X-Request-Id", "upstream-id")
		if r.URL.Path == "/stream" {
			h.Set("Trailer", "X-Sum")
			h.Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, "data: 1\n\n")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "data: 2\n\n")
			h.Set("X-Sum", "3")
			return
		}
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(append([]byte(`{"ok":true,"body":`), append(body, '}')...))
	}))
	t.Cleanup(up.Close)
	p := New(Config{Transport: webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: true}).Transport})
	if p.h1 == nil {
		t.Fatal("no h1 transport over the webhooks' one")
	}

	type answer struct {
		status  int
		header  http.Header
		body    string
		trailer http.Header
	}
	run := func(forward bool, method, path string, body []byte, header http.Header) (answer, string) {
		t.Helper()
		target, _ := url.Parse(up.URL + path)
		cl := &call{appID: "app_1", token: "provider-token", version: 1, target: target}
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req := httptest.NewRequest(method, "/v1/proxy/cred_1"+path, rd)
		req.Header = header.Clone()
		if body != nil {
			cl.replay = body
			req.Body = io.NopCloser(bytes.NewReader(body))
			req.ContentLength = int64(len(body))
		}
		ctx, cancel := context.WithCancel(context.WithValue(req.Context(), callKey{}, cl))
		defer cancel()
		if got := p.forwards(req, cl); !got {
			t.Fatalf("%s %s is not forwarded by forward", method, path)
		}
		rec := httptest.NewRecorder()
		rec.Header().Set("X-Request-Id", "gatehouse-id") // as the edge's middleware sets it
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if forward {
			p.forward(rec, req.WithContext(ctx), cl)
		} else {
			p.rp.ServeHTTP(rec, req.WithContext(ctx))
		}
		if cl.err != nil {
			t.Fatalf("forward %v: %v", forward, cl.err)
		}
		res := rec.Result()
		b, _ := io.ReadAll(res.Body)
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != n+1 {
			t.Fatalf("forward %v: the upstream saw %d requests", forward, len(seen)-n)
		}
		return answer{status: res.StatusCode, header: res.Header, body: string(b), trailer: res.Trailer}, seen[n]
	}
	header := http.Header{
		"Authorization":    {"Bearer gatehouse-token"},
		"Cookie":           {"gh_session=s; theirs=1; gh_csrf=c; gh_console=sealed; gh_console_auth=pending; __Host-gh_session=s; __Host-gh_csrf=c; __Host-gh_console=sealed; __Host-gh_console_auth=pending"},
		"Connection":       {"X-Client-Hop"},
		"X-Client-Hop":     {"dropped"},
		"Proxy-Connection": {"keep-alive"},
		"Te":               {"trailers"},
		"X-Forwarded-For":  {"10.0.0.1"},
		"Forwarded":        {"for=10.0.0.1"},
		"X-Request-Id":     {"caller-id"},
		"Accept":           {"application/json", "text/plain"},
		"X-Custom":         {"v"},
	}
	for _, c := range []struct {
		method, path string
		body         []byte
	}{
		{http.MethodGet, "/items?a=1&b=two", nil},
		{http.MethodPost, "/items", []byte(`{"name":"x"}`)},
		{http.MethodGet, "/stream", nil},
	} {
		viaRP, sentRP := run(false, c.method, c.path, c.body, header)
		viaFW, sentFW := run(true, c.method, c.path, c.body, header)
		if sentRP != sentFW {
			t.Errorf("%s %s: upstream saw\n%s\nfrom the forwarder, and\n%s\nfrom the reverse proxy", c.method, c.path, sentFW, sentRP)
		}
		for _, bad := range []string{"X-Client-Hop", "Proxy-Connection", "X-Forwarded-For", "Forwarded", "gatehouse-token", "gh_session", "gh_csrf", "gh_console", "caller-id", "Go-http-client"} {
			if strings.Contains(sentFW, bad) {
				t.Errorf("%s %s: %q reached the upstream:\n%s", c.method, c.path, bad, sentFW)
			}
		}
		for _, want := range []string{"Authorization: Bearer provider-token", "Cookie: theirs=1", "Te: trailers", "Accept: application/json | text/plain"} {
			if !strings.Contains(sentFW, want) {
				t.Errorf("%s %s: %q not sent:\n%s", c.method, c.path, want, sentFW)
			}
		}
		if viaRP.status != viaFW.status || viaRP.body != viaFW.body {
			t.Errorf("%s %s: forwarder %d %q, reverse proxy %d %q", c.method, c.path, viaFW.status, viaFW.body, viaRP.status, viaRP.body)
		}
		for _, h := range []http.Header{viaFW.header, viaRP.header} {
			delete(h, "Date")
		}
		if !equalHeaders(viaRP.header, viaFW.header) || !equalHeaders(viaRP.trailer, viaFW.trailer) {
			t.Errorf("%s %s: answer headers %v trailers %v from the forwarder, %v %v from the reverse proxy", c.method, c.path,
				viaFW.header, viaFW.trailer, viaRP.header, viaRP.trailer)
		}
		for _, gone := range []string{"X-Hop", "Keep-Alive", "Set-Cookie", "Connection"} {
			if _, ok := viaFW.header[gone]; ok {
				t.Errorf("%s %s: answer header %s passed", c.method, c.path, gone)
			}
		}
		if viaFW.header.Get("X-Upstream") != "kept" || viaFW.header.Get("Content-Security-Policy") != answerCSP {
			t.Errorf("%s %s: answer headers %v", c.method, c.path, viaFW.header)
		}
	}
	if _, sent := run(true, http.MethodGet, "/stream", nil, header); !strings.Contains(sent, "GET /stream") {
		t.Fatal(sent)
	}
	viaFW, _ := run(true, http.MethodGet, "/stream", nil, header)
	if viaFW.body != "data: 1\n\ndata: 2\n\n" || viaFW.trailer.Get("X-Sum") != "3" || viaFW.status != http.StatusAccepted {
		t.Fatalf("stream: %d %q trailer %v", viaFW.status, viaFW.body, viaFW.trailer)
	}
}

func equalHeaders(a, b http.Header) bool {
	return maps.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}
