package proxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/proxy"
)

// The lane's review (h1) pins what the lane does with adversarial
// request heads and upstream answers: nothing smuggled, split or out of
// step, the same as net/http's server where the lane reads the head.

// echoUpstream is an upstream (its URL) that answers every request with
// its method, target and body, and a reader of those it was sent since
// the last read.
func echoUpstream(t *testing.T) (string, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	u := proxy.RawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			b, err := io.ReadAll(req.Body)
			if err != nil {
				return
			}
			line := req.Method + " " + req.RequestURI + " " + string(b)
			mu.Lock()
			seen = append(seen, line)
			mu.Unlock()
			_, _ = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(line), line)
		}
	})
	return u, func() []string {
		mu.Lock()
		defer mu.Unlock()
		s := seen
		seen = nil
		return s
	}
}

// volatile are the parts of a problem that differ between two answers.
var volatile = regexp.MustCompile(`"(request_id|instance|trace_id)":"[^"]*"|X-Request-Id: [A-Z0-9]+|Date: [^\r]*`)

// answers writes first on a new connection and reads its answer, then
// writes more and reads every answer (status, Connection, body) until
// the server closes the connection.
func (ls laneServer) answers(t *testing.T, first, more string) []string {
	t.Helper()
	c, br := ls.dial(t)
	if a := roundTrip(t, c, br, first); a.status != http.StatusOK {
		t.Fatalf("first: %d %q", a.status, a.body)
	}
	if _, err := io.WriteString(c, more); err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			if err != io.EOF {
				got = append(got, "error: "+err.Error())
			}
			return got
		}
		b, err := io.ReadAll(res.Body)
		if err != nil {
			return append(got, fmt.Sprintf("%d body: %v", res.StatusCode, err))
		}
		got = append(got, fmt.Sprintf("%d %s %s", res.StatusCode, res.Header.Get("Connection"), volatile.ReplaceAllString(string(b), "")))
	}
}

// TestLaneRequestHeadsLikeServer (review h1): odd and hostile request
// heads on a connection the lane holds (after a first proxied request)
// are answered as net/http's server answers them (the same bytes after
// a first request the lane does not take), and the upstream is sent the
// same requests: the framing refusals (Content-Length and
// Transfer-Encoding together or odd, obsolete folding, white space
// before a colon, control characters, bare CR), request lines and
// versions net/http refuses, dot segments, hop-by-hop upgrades and
// Expect, missing or doubled Host, pipelined requests across a
// hand-back. Each is followed by a /healthz with "Connection: close",
// which must come out in step.
func TestLaneRequestHeadsLikeServer(t *testing.T) {
	api, seen := echoUpstream(t)
	ls := newLaneServer(t, api+"/api", nil)
	h := func(method, target string, lines ...string) string {
		return method + " " + strings.ReplaceAll(target, "{P}", ls.path) + " HTTP/1.1\r\nHost: gatehouse.test\r\nAuthorization: Bearer " +
			ls.token + "\r\n" + strings.Join(append(lines, ""), "\r\n") + "\r\n"
	}
	post := func(lines ...string) string {
		return h("POST", "{P}/a", append([]string{"Content-Type: text/plain"}, lines...)...)
	}
	version := func(v string) string { return strings.Replace(h("GET", "{P}/a"), "HTTP/1.1", v, 1) }
	next := h("GET", "{P}/next") // a request of its own once the body before ends
	for name, probe := range map[string]string{
		"cl and te":         post("Content-Length: 5", "Transfer-Encoding: chunked") + "0\r\n\r\n" + next,
		"te and cl":         post("Transfer-Encoding: chunked", "Content-Length: 30") + "0\r\n\r\n" + next,
		"two cl":            post("Content-Length: 5", "Content-Length: 5") + "hello",
		"two cl different":  post("Content-Length: 5", "Content-Length: 30") + "hello" + next,
		"cl plus":           post("Content-Length: +5") + "hello",
		"cl list":           post("Content-Length: 5,5") + "hello",
		"cl zeros":          post("Content-Length: 005") + "hello",
		"cl huge":           post("Content-Length: 99999999999999999999") + "hello",
		"cl negative":       post("Content-Length: -1") + "hello",
		"te Chunked":        post("Transfer-Encoding: Chunked") + "5\r\nhello\r\n0\r\n\r\n" + next,
		"te identity":       post("Transfer-Encoding: identity", "Content-Length: 5") + "hello",
		"te gzip, chunked":  post("Transfer-Encoding: gzip, chunked") + "5\r\nhello\r\n0\r\n\r\n",
		"te twice":          post("Transfer-Encoding: chunked", "Transfer-Encoding: chunked") + "0\r\n\r\n" + next,
		"obs-fold cl":       post("X-A: 1", " Content-Length: 5") + "hello",
		"cl space colon":    post("Content-Length : 5") + "hello",
		"empty name":        h("GET", "{P}/a", ": 1"),
		"cr in value":       h("GET", "{P}/a", "X-A: 1\r2"),
		"nul in value":      h("GET", "{P}/a", "X-A: 1\x002"),
		"bare cr":           strings.ReplaceAll(h("GET", "{P}/a"), "\r\n", "\r"),
		"bare lf":           strings.ReplaceAll(h("GET", "{P}/a")+next, "\r\n", "\n"),
		"two spaces":        strings.Replace(h("GET", "{P}/a"), " ", "  ", 1),
		"absolute form":     h("GET", "http://gatehouse.test{P}/a"),
		"asterisk form":     h("GET", "*"),
		"fragment":          h("GET", "{P}/a#frag"),
		"dot dot":           h("GET", "{P}/a/../../x"),
		"escaped dot dot":   h("GET", "{P}/%2e%2e/x"),
		"escaped slash":     h("GET", "{P}/a%2fb"),
		"another's dot dot": h("GET", "/v1/proxy/other/.."+strings.TrimPrefix(ls.path, "/v1/proxy")+"/a"),
		"http/1.0":          version("HTTP/1.0"),
		"http/0.9":          "GET " + ls.path + "/a\r\n\r\n",
		"http/2.0":          version("HTTP/2.0"),
		"connection close":  h("GET", "{P}/a", "Connection: close"),
		"expect":            post("Content-Length: 5", "Expect: 100-continue") + "hello",
		"upgrade":           h("GET", "{P}/a", "Connection: Upgrade", "Upgrade: websocket"),
		"no host":           strings.Replace(h("GET", "{P}/a"), "Host: gatehouse.test\r\n", "", 1),
		"two hosts":         h("GET", "{P}/a", "Host: other"),
		"pipelined":         h("GET", "{P}/a") + post("Content-Length: 2") + "hi\r\n" + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + h("GET", "{P}/c"),
		"big head":          h("GET", "{P}/a", "X-Big: "+strings.Repeat("b", 5000)) + h("GET", "{P}/b"),
	} {
		t.Run(name, func(t *testing.T) {
			const canary = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
			lane := ls.answers(t, ls.head(http.MethodGet, "/first"), probe+canary)
			laneSeen := seen()[1:] // /first's
			server := ls.answers(t, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", probe+canary)
			serverSeen := seen()
			if fmt.Sprint(lane) != fmt.Sprint(server) || fmt.Sprint(laneSeen) != fmt.Sprint(serverSeen) {
				t.Errorf("after a request the lane takes:\n  %q\n  the upstream was sent %q\nafter one it does not:\n  %q\n  the upstream was sent %q",
					lane, laneSeen, server, serverSeen)
			}
			for _, s := range append(laneSeen, serverSeen...) {
				if strings.Contains(s, "..") {
					t.Errorf("the upstream was sent %q", s)
				}
			}
		})
	}
}

// TestLaneUpstreamAnswersInStep (review h1): odd and hostile upstream
// answers are relayed or refused (502), or cut when their body breaks
// after the head, on the raw way, the general way and the reverse
// proxy's (a body over 4 KiB); the fields never passed back are not;
// and the next request, on the kept upstream connection or a new one, is
// answered with its own answer.
func TestLaneUpstreamAnswersInStep(t *testing.T) {
	const ct, hello = "Content-Type: text/plain\r\n", "Content-Length: 5\r\n\r\nhello"
	const cut = 0
	cases := map[string]struct {
		answer string
		status int // cut: the answer is cut after its head
	}{
		"cl and te":          {"HTTP/1.1 200 OK\r\n" + ct + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200},
		"te and cl":          {"HTTP/1.1 200 OK\r\n" + ct + "Transfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200},
		"two cl":             {"HTTP/1.1 200 OK\r\n" + ct + "Content-Length: 5\r\n" + hello, 200},
		"two cl different":   {"HTTP/1.1 200 OK\r\n" + ct + "Content-Length: 6\r\n" + hello + "!", 502},
		"cl list":            {"HTTP/1.1 200 OK\r\n" + ct + "Content-Length: 5, 5\r\n\r\nhello", 502},
		"cl plus":            {"HTTP/1.1 200 OK\r\n" + ct + "Content-Length: +5\r\n\r\nhello", 502},
		"cl huge":            {"HTTP/1.1 200 OK\r\n" + ct + "Content-Length: 99999999999999999999\r\n\r\nhello", 502},
		"te gzip":            {"HTTP/1.1 200 OK\r\n" + ct + "Transfer-Encoding: gzip\r\n\r\nhello<close>", 502},
		"bad chunk size":     {"HTTP/1.1 200 OK\r\n" + ct + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", cut},
		"chunk extension":    {"HTTP/1.1 200 OK\r\n" + ct + "Transfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\n\r\n", 200},
		"trailers":           {"HTTP/1.1 200 OK\r\n" + ct + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\nSet-Cookie: gh_session=x\r\n\r\n", 200},
		"no last chunk":      {"HTTP/1.1 200 OK\r\n" + ct + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n<close>", cut},
		"short body":         {"HTTP/1.1 200 OK\r\n" + ct + "Content-Length: 10\r\n\r\nhello<close>", cut},
		"103":                {"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n" + ct + hello, 200},
		"101":                {"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\nHTTP/1.1 200 OK\r\n" + ct + hello, 502},
		"1xx with a body":    {"HTTP/1.1 102 Processing\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n" + ct + hello, 502},
		"status 099":         {"HTTP/1.1 099 Odd\r\n" + ct + "Content-Length: 40\r\n\r\nHTTP/1.1 200 OK\r\n" + ct + hello + "<close>", 502},
		"204 with a body":    {"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello", 204},
		"204 then another":   {"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n" + ct + hello, 204},
		"304 with a body":    {"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello", 304},
		"bytes after":        {"HTTP/1.1 200 OK\r\n" + ct + hello + "HTTP/1.1 200 OK\r\n" + ct + hello, 200},
		"read to close":      {"HTTP/1.1 200 OK\r\n" + ct + "\r\nhello<close>", 200},
		"http/1.0":           {"HTTP/1.0 200 OK\r\n" + ct + hello, 200},
		"connection close":   {"HTTP/1.1 200 OK\r\n" + ct + "Connection: close\r\n" + hello, 200},
		"nul in a value":     {"HTTP/1.1 200 OK\r\n" + ct + "X-A: a\x00b\r\n" + hello, 502},
		"cr in a value":      {"HTTP/1.1 200 OK\r\n" + ct + "X-A: a\rSet-Cookie: gh_session=x\r\n" + hello, 502},
		"space before colon": {"HTTP/1.1 200 OK\r\n" + ct + "Set-Cookie : gh_session=x\r\nContent-Length : 30\r\n" + hello, 200},
		"head over 64 KiB":   {"HTTP/1.1 200 OK\r\n" + ct + "X-Big: " + strings.Repeat("b", 70000) + "\r\n" + hello, 502},
		"not passed back": {"HTTP/1.1 200 OK\r\n" + ct + "Connection: X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nUpgrade: y\r\n" +
			"set-cookie: gh_session=x\r\nAccess-Control-Allow-Origin: *\r\n" + hello, 200},
	}
	script := map[string]string{}
	for name, c := range cases {
		script[strings.ReplaceAll(name, " ", "-")] = c.answer
	}
	ls := newLaneServer(t, scriptedUpstream(t, script)+"/api", nil)
	for name, want := range cases {
		for _, way := range []string{"raw", "general", "reverse"} {
			t.Run(name+"/"+way, func(t *testing.T) {
				target := "/s/" + strings.ReplaceAll(name, " ", "-")
				req := ls.head(http.MethodGet, target)
				switch way {
				case "general":
					req = ls.head(http.MethodGet, target, "Cookie: a=1")
				case "reverse":
					req = ls.head(http.MethodPost, target, "Content-Type: text/plain", "Content-Length: 5000") + strings.Repeat("b", 5000)
				}
				c, br := ls.dial(t)
				if a := roundTrip(t, c, br, ls.head(http.MethodGet, "/first")); a.body != "ok /api/first" {
					t.Fatalf("first: %d %q", a.status, a.body)
				}
				if _, err := io.WriteString(c, req); err != nil {
					t.Fatal(err)
				}
				status, open := cut, false
				for {
					res, err := http.ReadResponse(br, nil)
					if err != nil {
						break
					}
					if res.StatusCode < 200 {
						continue
					}
					_, err = io.ReadAll(res.Body)
					if err == nil {
						status, open = res.StatusCode, !res.Close
					}
					for name := range res.Header {
						switch name {
						case "Set-Cookie", "X-Secret", "Keep-Alive", "Upgrade", "Access-Control-Allow-Origin":
							t.Errorf("%s passed back: %v", name, res.Header)
						}
					}
					break
				}
				if status != want.status {
					t.Errorf("status %d, want %d (0: cut)", status, want.status)
				}
				if !open {
					c, br = ls.dial(t)
				}
				if a := roundTrip(t, c, br, ls.head(http.MethodGet, "/after")); a.body != "ok /api/after" {
					t.Errorf("the next request: %d %q", a.status, a.body)
				}
			})
		}
	}
}

// TestLaneNotForwarded (review h1): the fields never forwarded (hop-by-
// hop, those Connection names, forwarding, Gatehouse's Authorization,
// X-Request-Id and cookies) are not, whichever way the request takes.
func TestLaneNotForwarded(t *testing.T) {
	var mu sync.Mutex
	var last string
	api := proxy.RawUpstream(t, func(c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			var b strings.Builder
			_ = req.Header.Write(&b)
			mu.Lock()
			last = b.String()
			mu.Unlock()
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	ls := newLaneServer(t, api+"/api", nil)
	never := []string{"Keep-Alive: timeout=5", "Proxy-Connection: keep-alive", "Proxy-Authorization: Basic eA==",
		"Forwarded: for=192.0.2.1", "X-Forwarded-For: 192.0.2.1", "X-Forwarded-Host: evil", "X-Forwarded-Proto: https",
		"X-Request-Id: mine", "authorization: Bearer second", "Te: gzip", "Trailer: X-T"}
	for _, fields := range [][]string{
		never, // the raw way but for Te and Trailer
		append([]string{"Connection: X-Secret, keep-alive", "X-Secret: 1"}, never...),
		append([]string{"Connection: keep-alive", "connection: x-secret", "X-Secret: 1"}, never...),
		append([]string{"Cookie: gh_session=s; gh_csrf=c; theirs=1"}, never...),
		{"Connection: keep-alive"},
		{"Connection: keep-alive", "Keep-Alive: timeout=5", "X-Forwarded-For: 192.0.2.1", "Proxy-Authorization: Basic eA=="}, // raw
	} {
		for _, taken := range []bool{false, true} {
			c, br := ls.dial(t)
			if taken { // the next request is the lane's to read
				roundTrip(t, c, br, ls.head(http.MethodGet, "/first"))
			}
			a := roundTrip(t, c, br, ls.head(http.MethodGet, "/x", fields...))
			mu.Lock()
			got := last
			mu.Unlock()
			if a.status != http.StatusOK || got != "Authorization: Bearer provider-token-1\r\n" && got != "Authorization: Bearer provider-token-1\r\nCookie: theirs=1\r\n" {
				t.Errorf("%q (lane's to read: %v): %d, the upstream was sent %q", fields, taken, a.status, got)
			}
		}
	}
}

// TestLaneSplitHeadsLikeServer (review h1): requests written a few bytes
// at a time (heads and bodies over many reads, a head over the lane's
// buffer, pipelined requests across hand-backs) are answered as when
// written at once.
func TestLaneSplitHeadsLikeServer(t *testing.T) {
	api, seen := echoUpstream(t)
	ls := newLaneServer(t, api+"/api", nil)
	h := func(method, path string, lines ...string) string {
		return method + " " + ls.path + path + " HTTP/1.1\r\nHost: gatehouse.test\r\nAuthorization: Bearer " + ls.token + "\r\n" +
			strings.Join(append(lines, ""), "\r\n") + "\r\n"
	}
	big := "X-Big: " + strings.Repeat("b", 5000)
	stream := h("GET", "/a") + h("POST", "/b", "Content-Type: text/plain", "Content-Length: 2") + "hi\r\n" +
		strings.ReplaceAll(h("GET", "/c", "X-A: 1"), "\r\n", "\n") + h("GET", "/d", big) +
		h("POST", "/e", "Content-Type: text/plain", "Transfer-Encoding: chunked") + "2\r\nhi\r\n0\r\n\r\n" +
		"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + h("GET", "/f") + "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	var want []string
	for _, step := range []int{len(stream), 1, 7} {
		c, br := ls.dial(t)
		if a := roundTrip(t, c, br, ls.head(http.MethodGet, "/first")); a.status != http.StatusOK {
			t.Fatalf("first: %d", a.status)
		}
		_ = c.(*net.TCPConn).SetNoDelay(true)
		go func() {
			for i := 0; i < len(stream); i += step {
				if _, err := io.WriteString(c, stream[i:min(i+step, len(stream))]); err != nil {
					return
				}
			}
		}()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var got []string
		for {
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				break
			}
			b, _ := io.ReadAll(res.Body)
			got = append(got, fmt.Sprintf("%d %s", res.StatusCode, b))
		}
		got = append(got, seen()[1:]...)
		if want == nil {
			want = got
			if len(got) != 14 {
				t.Fatalf("written at once: %q", got)
			}
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("written %d bytes at a time: %q, at once %q", step, got, want)
		}
	}
}
