package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// laneProxy is a server with a credential (header template tmpl, "" the
// default) whose base_url is api's /api, and an app token that may use it.
type laneProxy struct {
	s     *servertest.Server
	token string
	path  string // /v1/proxy/{credential}
}

func newLaneProxy(t *testing.T, api *httptest.Server, tmpl string) laneProxy {
	t.Helper()
	up := servertest.New(t)
	provider := createApp(t, up, up.Token(), map[string]any{"name": "provider-client"})
	s := servertest.New(t)
	admin := s.Token()
	app := createApp(t, s, admin, map[string]any{"name": "integrator", "requested_scopes": []string{"credentials:use"}})
	decide(t, s, admin, app.ID, "credentials:use", "approve")
	body := map[string]any{"name": "crm", "provider": "custom",
		"grant_type": "client_credentials", "client_id": provider.ClientID, "client_secret": provider.ClientSecret,
		"token_url": up.URL + "/v1/oauth/token", "scopes": []string{}, "base_url": api.URL + "/api", "grants": []string{app.ID}}
	if tmpl != "" {
		body["header_template"] = tmpl
	}
	var cred credential
	want(t, s.Do(http.MethodPost, "/v1/credentials", admin, body), http.StatusCreated).JSON(t, &cred)
	return laneProxy{s: s, token: s.TokenFor(app.ClientID, app.ClientSecret), path: "/v1/proxy/" + cred.ID}
}

// dial is a raw connection to the server.
func (lp laneProxy) dial(t *testing.T) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(lp.s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}

// get writes a GET of path (under the credential) with extra header
// lines, and reads its answer (the body read).
func (lp laneProxy) get(t *testing.T, c net.Conn, br *bufio.Reader, path string, extra ...string) (*http.Response, string) {
	t.Helper()
	req := fmt.Sprintf("GET %s%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n%s\r\n", lp.path, path, lp.token, strings.Join(append(extra, ""), "\r\n"))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("GET %s: body: %v", path, err)
	}
	return res, string(b)
}

// TestHTTPProxyLaneTemplateUserAgent: a credential whose header template
// names User-Agent sends the upstream one User-Agent, the token's, on
// every way (the raw way sent the client's too).
func TestHTTPProxyLaneTemplateUserAgent(t *testing.T) {
	got := make(chan []string, 4)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header["User-Agent"]
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(api.Close)
	lp := newLaneProxy(t, api, "User-Agent: key {token}")
	c, br := lp.dial(t)
	for i, way := range []string{"general", "raw"} {
		res, body := lp.get(t, c, br, "/items", "User-Agent: client/1.0")
		if res.StatusCode != http.StatusOK || body != "ok" {
			t.Fatalf("%s: %d %q", way, res.StatusCode, body)
		}
		if ua := <-got; len(ua) != 1 || !strings.HasPrefix(ua[0], "key ") {
			t.Errorf("%s way (request %d): the upstream got User-Agent %q", way, i+1, ua)
		}
	}
}
