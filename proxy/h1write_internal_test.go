package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestWriteRequestLikeWrite: writeRequest writes what Request.Write
// writes, byte for byte, for the requests the proxy sends and for those
// it leaves to Write.
func TestWriteRequestLikeWrite(t *testing.T) {
	header := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h[kv[i]] = append(h[kv[i]], kv[i+1])
		}
		return h
	}
	cases := []struct {
		name, method, url, host string
		header                  http.Header
		body                    string
		chunked, close          bool
	}{
		{name: "get", method: "GET", url: "http://api.example:8080/v1/items?x=1&y=%20", header: header("Accept", "a/b", "Accept", "c/d", "X-B", " padded\t", "X-A", "v", "Te", "trailers")},
		{name: "no user agent key", method: "GET", url: "http://api.example/"},
		{name: "empty user agent", method: "GET", url: "http://api.example/", header: header("User-Agent", "")},
		{name: "user agent", method: "GET", url: "http://api.example/p", header: header("User-Agent", " ua/1 ", "User-Agent", "second")},
		{name: "excluded", method: "GET", url: "http://api.example/p", header: header("Host", "h", "Content-Length", "9", "Transfer-Encoding", "x", "Trailer", "T", "Content-Type", "t/t")},
		{name: "escaped path", method: "GET", url: "http://api.example/a%2Fb/c%20d/%E2%82%AC"},
		{name: "force query", method: "GET", url: "http://api.example/a?"},
		{name: "empty path", method: "GET", url: "http://api.example"},
		{name: "post", method: "POST", url: "http://api.example/p", header: header("Content-Type", "application/json"), body: `{"a":1}`},
		{name: "post empty", method: "POST", url: "http://api.example/p"},
		{name: "put empty", method: "PUT", url: "http://api.example/p"},
		{name: "patch empty", method: "PATCH", url: "http://api.example/p"},
		{name: "delete empty", method: "DELETE", url: "http://api.example/p"},
		{name: "delete body", method: "DELETE", url: "http://api.example/p", body: "x"},
		{name: "head", method: "HEAD", url: "http://api.example/p"},
		{name: "ipv6", method: "GET", url: "http://[::1]:9/p"},
		{name: "ipv6 zone", method: "GET", url: "http://[fe80::1%25eth0]:9/p"},
		{name: "idn", method: "GET", url: "http://bücher.example/p"},
		{name: "bad host", method: "GET", url: "http://api.example/p", host: "a b"},
		{name: "host override", method: "GET", url: "http://api.example/p", host: "other.example"},
		{name: "bad name", method: "GET", url: "http://api.example/p", header: header("Bad Name", "v", "Good", "v")},
		{name: "non canonical", method: "GET", url: "http://api.example/p", header: header("x-lower", "v", "content-length", "3")},
		{name: "chunked", method: "POST", url: "http://api.example/p", body: "abc", chunked: true},
		{name: "close", method: "GET", url: "http://api.example/p", close: true},
	}
	for _, c := range cases {
		build := func() *http.Request {
			u, err := url.Parse(c.url)
			if err != nil {
				t.Fatal(err)
			}
			req := &http.Request{Method: c.method, URL: u, Host: c.host, Header: c.header.Clone(), Close: c.close}
			if req.Header == nil {
				req.Header = http.Header{}
			}
			if c.body != "" {
				req.Body = io.NopCloser(strings.NewReader(c.body))
				req.ContentLength = int64(len(c.body))
				if c.chunked {
					req.ContentLength = -1
				}
			}
			return req
		}
		var want, got bytes.Buffer
		werr := build().Write(&want)
		bw := bufio.NewWriter(&got)
		gerr := writeRequest(bw, build())
		_ = bw.Flush()
		if (werr == nil) != (gerr == nil) || want.String() != got.String() {
			t.Errorf("%s: Write gave %q (%v), writeRequest %q (%v)", c.name, want.String(), werr, got.String(), gerr)
		}
	}
}
