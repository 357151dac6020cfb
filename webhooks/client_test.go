package webhooks_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/webhooks"
)

// endpoint receives deliveries on 127.0.0.1, counting the requests and
// the connections it gets.
type endpoint struct {
	*httptest.Server
	hits  atomic.Int64
	conns atomic.Int64
}

// newEndpoint starts an endpoint answering with h; it stops with the test.
func newEndpoint(t *testing.T, h http.HandlerFunc) *endpoint {
	t.Helper()
	r := &endpoint{}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		h(w, req)
	}))
	r.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			r.conns.Add(1)
		}
	}
	r.Start()
	t.Cleanup(r.Close)
	return r
}

func answer(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(code)
	}
}

// outbound is a delivery of a small body to url, signed with one key.
func outbound(url string) webhooks.Outbound {
	return webhooks.Outbound{URL: url, ID: "msg_1", Timestamp: time.Now(), Body: []byte(`{"type":"t","data":{}}`), Secrets: [][]byte{bytes.Repeat([]byte{1}, 32)}}
}

var (
	guarded   = webhooks.NewClient(webhooks.ClientConfig{})
	unguarded = webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: true})
)

func TestValidateURLRefuses(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"", "is required"},
		{"https://" + strings.Repeat("a", 2040) + ".com/", "at most 2048 characters"},
		{"/relative", "absolute"},
		{"example.com/hook", "absolute"},
		{"ftp://example.com/hook", "http or https"},
		{"javascript:alert(1)", "http or https"},
		{"http:/hook", "name a host"},
		{"http://:8080/hook", "name a host"},
		{"https://user:pass@example.com/hook", "credentials"},
		{"https://user@example.com/hook", "credentials"},
		{"https://example.com/hook#frag", "fragment"},
		{"https://example.com/hook#", "fragment"},
		{"https://93.184.215.14:0/hook", "port from 1 to 65535"},
		{"https://93.184.215.14:65536/hook", "port from 1 to 65535"},
		{"https://nonexistent.invalid/hook", `host "nonexistent.invalid" does not resolve`},
		{"http://localhost:8080/hook", `host "localhost" resolves to 127.0.0.1`},
		{"http://127.0.0.1/hook", "must not point to 127.0.0.1"},
		{"http://127.1.2.3/hook", "must not point to"},
		{"http://0.0.0.0/hook", "must not point to"},
		{"https://10.1.2.3/hook", "must not point to"},
		{"https://172.16.5.4/hook", "must not point to"},
		{"https://192.168.1.1/hook", "must not point to"},
		{"http://100.64.0.1/hook", "must not point to"},                   // CGNAT
		{"http://169.254.169.254/latest/meta-data/", "must not point to"}, // cloud metadata
		{"http://224.0.0.1/hook", "must not point to"},                    // multicast
		{"http://[::1]/hook", "must not point to"},                        // IPv6 loopback
		{"http://[::ffff:127.0.0.1]/hook", "must not point to"},           // IPv4-mapped loopback
		{"http://[::ffff:a9fe:a9fe]/hook", "must not point to"},           // IPv4-mapped metadata
		{"http://[fe80::1]/hook", "must not point to"},                    // link-local
		{"http://[fe80::1%25eth0]/hook", "must not point to"},             // link-local with a zone
		{"http://[fd00:ec2::254]/latest/meta-data/", "must not point to"}, // ULA (AWS IPv6 metadata)
		{"http://[64:ff9b::a9fe:a9fe]/hook", "must not point to"},         // NAT64 of the metadata address
		{"http://[2001:db8::1]/hook", "must not point to"},                // documentation
		{"http://[2002:7f00:1::]/hook", "must not point to"},              // 6to4 of loopback
		{"http://[::]/hook", "must not point to"},                         // unspecified
		{"https://93.184.215.14/hook\x00", "absolute"},                    // control character
	} {
		err := webhooks.ValidateURL(t.Context(), tc.url, false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ValidateURL(%q) = %v, want an error saying %q", tc.url, err, tc.want)
		}
	}
}

func TestValidateURLAccepts(t *testing.T) {
	for _, u := range []string{
		"https://93.184.215.14/hook",
		"http://93.184.215.14:8080/hooks/gatehouse?tenant=acme",
		"https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/hook",
		"https://[::ffff:93.184.215.14]/hook",
	} {
		if err := webhooks.ValidateURL(t.Context(), u, false); err != nil {
			t.Errorf("ValidateURL(%q): %v", u, err)
		}
	}
	// AllowPrivate lets private addresses through, not malformed URLs nor
	// names that do not resolve.
	for _, u := range []string{"http://localhost:8080/hook", "http://127.0.0.1/hook", "http://10.0.0.1/hook", "http://[::1]:8080/hook"} {
		if err := webhooks.ValidateURL(t.Context(), u, true); err != nil {
			t.Errorf("ValidateURL(%q) with private addresses allowed: %v", u, err)
		}
	}
	for _, u := range []string{"https://nonexistent.invalid/hook", "ftp://127.0.0.1/", "http://u:p@127.0.0.1/"} {
		if err := webhooks.ValidateURL(t.Context(), u, true); err == nil {
			t.Errorf("ValidateURL(%q) with private addresses allowed: accepted", u)
		}
	}
}

// TestClientRefusesPrivateAddressesAtConnection: the guard acts after DNS
// resolution, on the address being connected to, whatever ValidateURL
// said when the subscription was made.
func TestClientRefusesPrivateAddressesAtConnection(t *testing.T) {
	ep := newEndpoint(t, answer(http.StatusNoContent))
	for _, u := range []string{
		ep.URL, // 127.0.0.1
		strings.Replace(ep.URL, "127.0.0.1", "localhost", 1), // a name resolving to 127.0.0.1
		"http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.1:8080/hook",
		"http://100.100.100.200/latest/meta-data/", // CGNAT (Alibaba metadata)
	} {
		r := webhooks.Deliver(t.Context(), guarded, outbound(u))
		if r.ErrorClass != webhooks.ClassSSRFRefused || r.StatusCode != 0 || r.Error == "" {
			t.Errorf("to %s: %+v, want ssrf_refused", u, r)
		}
	}
	if n := ep.hits.Load(); n != 0 {
		t.Fatalf("the endpoint got %d requests through the guard", n)
	}
	if r := webhooks.Deliver(t.Context(), unguarded, outbound(ep.URL)); r.ErrorClass != "" || r.StatusCode != http.StatusNoContent {
		t.Errorf("with AllowPrivate: %+v, want 204", r)
	}
}

// TestClientFollowsNoRedirect: a 3xx is the answer, recorded as a failure
// with its status; its target is never asked.
func TestClientFollowsNoRedirect(t *testing.T) {
	target := newEndpoint(t, answer(http.StatusOK))
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for _, loc := range []string{target.URL + "/internal", "http://10.0.0.1/internal", "http://169.254.169.254/latest/meta-data/"} {
			ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, loc, code) })
			r := webhooks.Deliver(t.Context(), unguarded, outbound(ep.URL))
			if r.StatusCode != code || r.ErrorClass != webhooks.ClassHTTPStatus || !strings.Contains(r.Error, "answered "+strconv.Itoa(code)) {
				t.Errorf("%d to %s: %+v, want the redirect recorded as a failure", code, loc, r)
			}
		}
	}
	if n := target.hits.Load(); n != 0 {
		t.Fatalf("a redirect was followed %d times", n)
	}
}

// TestClientReusesConnections: deliveries to one endpoint share a
// keep-alive connection, failed ones (whose body is drained) included.
func TestClientReusesConnections(t *testing.T) {
	var n atomic.Int64
	ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if n.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write(bytes.Repeat([]byte("e"), 20<<10))
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	for range 10 {
		webhooks.Deliver(t.Context(), unguarded, outbound(ep.URL))
	}
	if got := ep.conns.Load(); got != 1 {
		t.Errorf("10 deliveries opened %d connections, want 1", got)
	}
}

// TestClientBoundsTheAnswer: an endless answer body neither holds the
// attempt until the timeout nor is kept beyond 4 KiB.
func TestClientBoundsTheAnswer(t *testing.T) {
	ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusServiceUnavailable)
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				return // the client closed the connection
			}
		}
	})
	client := webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: true, Timeout: time.Hour})
	done := make(chan webhooks.SendResult, 1)
	go func() { done <- webhooks.Deliver(t.Context(), client, outbound(ep.URL)) }()
	select {
	case r := <-done:
		if r.StatusCode != http.StatusServiceUnavailable || len(r.ResponseBody) != webhooks.KeepBody {
			t.Errorf("endless body: status %d, %d bytes kept", r.StatusCode, len(r.ResponseBody))
		}
	case <-time.After(time.Minute): // a deadline, far beyond the milliseconds it takes
		t.Fatal("an endless answer body held the attempt")
	}
}

// TestClientTimeout: the total timeout ends an endpoint that never
// answers.
func TestClientTimeout(t *testing.T) {
	release := make(chan struct{})
	ep := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // then the server notices the client leaving
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // before the endpoint closes
	client := webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: true, Timeout: 200 * time.Millisecond})
	r := webhooks.Deliver(t.Context(), client, outbound(ep.URL))
	if r.ErrorClass != webhooks.ClassTimeout || r.StatusCode != 0 || r.Duration < 200*time.Millisecond {
		t.Errorf("a silent endpoint: %+v, want a timeout after 200ms", r)
	}
}

// TestClientUsesNoProxy: a proxy from the environment would make the
// connections in the guard's stead.
func TestClientUsesNoProxy(t *testing.T) {
	proxy := newEndpoint(t, answer(http.StatusOK))
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	for _, c := range []*http.Client{guarded, unguarded} {
		if tr, ok := c.Transport.(*http.Transport); !ok || tr.Proxy != nil {
			t.Fatal("the transport has a proxy")
		}
		r := webhooks.Deliver(t.Context(), c, outbound("http://nonexistent.invalid/hook"))
		if r.ErrorClass != webhooks.ClassDNS || proxy.hits.Load() != 0 {
			t.Errorf("with HTTP_PROXY set: %+v, %d requests to the proxy", r, proxy.hits.Load())
		}
	}
}
