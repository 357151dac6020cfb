package proxy

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// rawHeadSeeds are request heads the raw way must judge as net/http does:
// plain ones, and the ones smuggling and desync attacks are made of.
var rawHeadSeeds = []string{
	"GET /v1/proxy/c/items?a=1 HTTP/1.1\r\nHost: gh\r\nAuthorization: Bearer t\r\n\r\n",
	"POST /v1/proxy/c/items HTTP/1.1\r\nHost: gh\r\nContent-Length: 3\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.1\nHost: gh\n\n",
	"GET /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\nContent-Length: +1\r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\nContent-Length:  1 \r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\nX-Fold: a\r\n b\r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\nX-Bad : a\r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\nX-Bad: a\rb\r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\nHost: other\r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.1\r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.0\r\nHost: gh\r\n\r\n",
	"GET http://gh/v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\n\r\n",
	"GET /v1/proxy/c/x#f HTTP/1.1\r\nHost: gh\r\n\r\n",
	"GET /v1/proxy/c/%2e%2e/x HTTP/1.1\r\nHost: gh\r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\nConnection: close\r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\nConnection: keep-alive\r\nKeep-Alive: 5\r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\nExpect: 100-continue\r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\nCookie: a=b\r\n\r\n",
	"GET  /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\n\r\n",
	"get /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\n\r\n",
	"HEAD /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\n\r\n",
	"GET /v1/proxy/c HTTP/1.1\r\nHost: gh\r\n\r\n",
	"GET /v1/proxy//x HTTP/1.1\r\nHost: gh\r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.1\r\nHost: g h\r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\nX: \x7f\r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\nX: caf\xc3\xa9\r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\n: empty\r\n\r\n",
	"GET /v1/proxy/c/x HTTP/1.1\r\nHost: gh\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n",
}

// FuzzRawHeadLikeReadRequest: a head the raw way takes is one
// http.ReadRequest reads too (and net/http's server would serve), with
// the same method, target, host, length and Authorization, every field
// the raw way forwards among ReadRequest's with its value, and none of
// those ReadRequest's reading would make the server refuse or treat
// differently.
func FuzzRawHeadLikeReadRequest(f *testing.F) {
	for _, s := range rawHeadSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, head string) {
		end := headEnd([]byte(head), 0)
		if end == 0 {
			return
		}
		var h rawHead
		if !h.parse([]byte(head[:end])) {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head[:end])))
		if err != nil {
			t.Fatalf("raw took %q; ReadRequest: %v", head[:end], err)
		}
		if req.Method != h.method || req.RequestURI != h.target || req.Host != string(h.host) || req.ContentLength != h.length ||
			req.Header.Get("Authorization") != h.authz || req.Close || len(req.TransferEncoding) > 0 || req.ProtoMinor != 1 {
			t.Fatalf("%q: raw %s %s host %q length %d authz %q; ReadRequest %s %s host %q length %d authz %q close %v te %v",
				head[:end], h.method, h.target, h.host, h.length, h.authz,
				req.Method, req.RequestURI, req.Host, req.ContentLength, req.Header.Get("Authorization"), req.Close, req.TransferEncoding)
		}
		if req.URL.RawPath != "" || req.URL.Fragment != "" || req.URL.Host != "" {
			t.Fatalf("%q: raw took a target net/url reads as %#v", head[:end], req.URL)
		}
		for _, fl := range h.fields {
			if !containsValue(req.Header.Values(string(fl.name)), string(fl.value)) {
				t.Fatalf("%q: raw forwards %s: %q, ReadRequest has %q", head[:end], fl.name, fl.value, req.Header.Values(string(fl.name)))
			}
		}
		if _, ok := req.Header["Cookie"]; ok {
			t.Fatalf("%q: raw took a cookie", head[:end])
		}
	})
}

func containsValue(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// FuzzRawAnswerLikeReadResponse: an upstream answer head the raw way
// takes is one http.ReadResponse reads with the same status and length,
// no transfer coding, and every field the raw way passes back.
func FuzzRawAnswerLikeReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nContent-Length: 3\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 101 Switching\r\n\r\n",
		"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: a\r\nContent-Length: 1\r\nConnection: close\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: a\r\nContent-Length: 1\r\nConnection: x-hop\r\nX-Hop: 1\r\n\r\n",
		"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: a\r\nContent-Length: 1\r\nSet-Cookie: gh_session=x\r\nAccess-Control-Allow-Origin: *\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Type: a\nContent-Length: 2\n\n",
		"HTTP/1.1 200 OK\r\nContent-Type: a\r\nX: a\r\n b\r\nContent-Length: 2\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, head string) {
		end := headEnd([]byte(head), 0)
		if end == 0 {
			return
		}
		var a rawAnswer
		if !a.parse([]byte(head[:end])) {
			return
		}
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(head[:end])), &http.Request{Method: http.MethodGet})
		if err != nil {
			t.Fatalf("raw took %q; ReadResponse: %v", head[:end], err)
		}
		if resp.StatusCode != a.status || resp.ContentLength != a.length || len(resp.TransferEncoding) > 0 || resp.ProtoMinor != 1 ||
			resp.Close != a.close || len(resp.Trailer) > 0 {
			t.Fatalf("%q: raw %d length %d close %v; ReadResponse %d length %d close %v te %v", head[:end], a.status, a.length, a.close,
				resp.StatusCode, resp.ContentLength, resp.Close, resp.TransferEncoding)
		}
		for _, fl := range a.fields {
			if !containsValue(resp.Header.Values(string(fl.name)), string(fl.value)) {
				t.Fatalf("%q: raw passes %s: %q back, ReadResponse has %q", head[:end], fl.name, fl.value, resp.Header.Values(string(fl.name)))
			}
			if k := kindOf(fl.name); k == fieldNotOurs || k == fieldHop || k == fieldConnection || k == fieldTe || k == fieldUpgrade {
				t.Fatalf("%q: raw passes %s back", head[:end], fl.name)
			}
		}
	})
}
