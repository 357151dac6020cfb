// Package servertest runs the whole Gatehouse server in the test process,
// for package tests of the HTTP layer: the configuration the binary
// parses (server.LoadConfig, so defaults and validation are the
// binary's), the embedded NATS JetStream in a temporary data directory,
// in-memory projections, a fixed master key and a bootstrap admin with
// known credentials, served by an httptest.Server. A handler change is
// tested in seconds without building the binary; what needs the real
// process (signals, restarts, clusters, kill -9) stays in e2e.
//
// A package using it calls Main from its TestMain: after the tests it
// fails the binary when a goroutine of the server outlives them (a server
// not closed, a worker whose Close does not stop what it started).
package servertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/server"
)

// The bootstrap admin of every test server: it holds every built-in
// scope.
const (
	AdminID     = "test-admin"
	AdminSecret = "test-admin-secret-0123456789abcdef0123"
)

// MasterKey is the master key of every test server (32 bytes 0x01).
var MasterKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))

// Option sets a GATEHOUSE_* variable of the server's configuration, by its
// name without the prefix: Env("WEBHOOK_RETRY_SCHEDULE", "1s").
type Option func(env map[string]string)

// Env sets the variable GATEHOUSE_<name>.
func Env(name, value string) Option {
	return func(env map[string]string) { env[server.EnvPrefix+name] = value }
}

// Server is a running test server.
type Server struct {
	// URL is the base URL, also the issuer.
	URL string
	// AdminID and AdminSecret are the bootstrap admin's credentials.
	AdminID, AdminSecret string
	// Server is the server built from the configuration.
	Server *server.Server
	// Config is the configuration it was built from.
	Config server.Config

	t    testing.TB
	http *httptest.Server
}

// New starts a server and closes it when the test ends. Webhooks may
// target loopback (GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true) so that an
// httptest receiver can be used; every other setting is the binary's
// default unless an option sets it.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	env := map[string]string{
		server.EnvPrefix + "DATA_DIR":                t.TempDir(),
		server.EnvPrefix + "MASTER_KEY":              MasterKey,
		server.EnvPrefix + "STREAM_PREFIX":           "t" + strings.ToLower(rand.Text()[:8]),
		server.EnvPrefix + "BOOTSTRAP_CLIENT_ID":     AdminID,
		server.EnvPrefix + "BOOTSTRAP_CLIENT_SECRET": AdminSecret,
		server.EnvPrefix + "ISSUER":                  "http://" + ts.Listener.Addr().String(),
		server.EnvPrefix + "WEBHOOK_ALLOW_PRIVATE":   "true",
	}
	for _, o := range opts {
		o(env)
	}
	cfg, err := server.LoadConfig(nil, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		ts.Listener.Close()
		t.Fatalf("servertest: configuration: %v", err)
	}
	ctx := context.WithoutCancel(t.Context()) // workers outlive the start
	s, err := server.Build(ctx, cfg, server.Options{})
	if err != nil {
		ts.Listener.Close()
		t.Fatalf("servertest: build: %v", err)
	}
	if err := s.Start(ctx); err != nil {
		ts.Listener.Close()
		t.Fatalf("servertest: start: %v", err)
	}
	ts.Config.Handler = s.Handler()
	s.Attach(ts.Config) // the credential proxy's lane, as the binary has it
	ts.Start()
	srv := &Server{URL: ts.URL, AdminID: AdminID, AdminSecret: AdminSecret, Server: s, Config: cfg, t: t, http: ts}
	t.Cleanup(func() {
		ts.Close() // waits for in-flight requests
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Drain(dctx); err != nil {
			t.Errorf("servertest: the lane's connections: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("servertest: close: %v", err)
		}
	})
	srv.waitReady()
	return srv
}

// waitReady waits until /readyz answers 200 (the first signing key is
// active), at most 10 s.
func (s *Server) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(s.URL + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("servertest: not ready within 10s (last: %v)", err)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

// Token mints an access token for the bootstrap admin with the given
// scopes (none: every scope it holds) through the real token endpoint.
func (s *Server) Token(scopes ...string) string {
	s.t.Helper()
	return s.TokenFor(s.AdminID, s.AdminSecret, scopes...)
}

// TokenFor mints an access token for any client with client_credentials.
func (s *Server) TokenFor(clientID, secret string, scopes ...string) string {
	s.t.Helper()
	cc := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: s.URL + "/v1/oauth/token", Scopes: scopes}
	tok, err := cc.Token(s.t.Context())
	if err != nil {
		s.t.Fatalf("servertest: mint for %s %v: %v", clientID, scopes, err)
	}
	return tok.AccessToken
}

// Response is an answer read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test when it is not JSON of
// v's shape.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("answer %d is not JSON of %T: %v\n%s", r.Status, v, err, r.Body)
	}
}

// Do sends a request with a JSON body (nil: none) and a bearer token
// (empty: none); headers are name, value pairs.
func (s *Server) Do(method, path, token string, body any, headers ...string) Response {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return s.send(req)
}

// Form posts a form with HTTP Basic client authentication (user empty:
// none), as the OAuth endpoints take it; headers are name, value pairs.
func (s *Server) Form(path, user, pass string, form map[string][]string, headers ...string) Response {
	s.t.Helper()
	req := s.formRequest(path, form)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return s.send(req)
}

// BearerForm posts a form with token as the bearer credential
// (introspection and revocation take an app's own token).
func (s *Server) BearerForm(path, token string, form map[string][]string) Response {
	s.t.Helper()
	req := s.formRequest(path, form)
	req.Header.Set("Authorization", "Bearer "+token)
	return s.send(req)
}

// formRequest is a POST of form to path.
func (s *Server) formRequest(path string, form map[string][]string) *http.Request {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.t.Context(), http.MethodPost, s.URL+path, strings.NewReader(url.Values(form).Encode()))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func (s *Server) send(req *http.Request) Response {
	s.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatalf("%s %s: read: %v", req.Method, req.URL.Path, err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// ApproveCodeFlow approves, as the bootstrap admin, the authorization_code
// grant and every redirect URI of the default tenant's app appID that are
// still pending (API.md "Users and sign-in": they take effect once
// approved), through POST /v1/platform/apps/{id}/scope-decisions. It
// fails the test unless each answer is 200. Apps of other tenants:
// ApproveCodeFlowWith, with a token of that tenant's admin.
func (s *Server) ApproveCodeFlow(appID string) {
	s.t.Helper()
	s.ApproveCodeFlowWith(s.Token("platform:scopes:approve", "platform:apps:read"), appID)
}

// ApproveCodeFlowWith is ApproveCodeFlow with the token of an admin
// holding platform:scopes:approve and platform:apps:read.
func (s *Server) ApproveCodeFlowWith(token, appID string) {
	s.t.Helper()
	res := s.Do(http.MethodGet, "/v1/platform/apps/"+appID, token, nil)
	if res.Status != http.StatusOK {
		s.t.Fatalf("servertest: read app %s: %d %s", appID, res.Status, res.Body)
	}
	var app struct {
		Grants []struct {
			GrantType string `json:"grant_type"`
			Status    string `json:"status"`
		} `json:"grants"`
		RedirectURIs []struct {
			RedirectURI string `json:"redirect_uri"`
			Status      string `json:"status"`
		} `json:"redirect_uri_approvals"`
	}
	res.JSON(s.t, &app)
	var bodies []map[string]string
	for _, g := range app.Grants {
		if g.Status == "pending" {
			bodies = append(bodies, map[string]string{"grant_type": g.GrantType, "decision": "approve"})
		}
	}
	for _, u := range app.RedirectURIs {
		if u.Status == "pending" {
			bodies = append(bodies, map[string]string{"redirect_uri": u.RedirectURI, "decision": "approve"})
		}
	}
	for _, b := range bodies {
		if res := s.Do(http.MethodPost, "/v1/platform/apps/"+appID+"/scope-decisions", token, b); res.Status != http.StatusOK {
			s.t.Fatalf("servertest: approve %v of app %s: %d %s", b, appID, res.Status, res.Body)
		}
	}
}

// UserToken mints, through the server's one mint path, an access token
// issued to the signed-in user userID through the app whose client_id is
// clientID (sub = userID, client_id = clientID), as the identity
// provider's grants do, with scopes as given and an hour to live. The
// platform API and introspection check it as any user token.
func (s *Server) UserToken(clientID, userID string, scopes ...string) string {
	s.t.Helper()
	app, err := projections.AppByClientID(s.t.Context(), s.Server.Store(), clientID)
	if err != nil {
		s.t.Fatalf("servertest: app %s: %v", clientID, err)
	}
	tok, _, err := s.Server.Comps.OAuth.MintUserToken(s.t.Context(), app, userID, "authorization_code", scopes, time.Hour)
	if err != nil {
		s.t.Fatalf("servertest: mint for user %s: %v", userID, err)
	}
	return tok
}
