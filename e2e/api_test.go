package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Every scope the bootstrap admin app holds (API.md "Authentication of
// the platform API").
var builtinScopes = []string{
	"platform:apps:read", "platform:apps:write", "platform:scopes:approve", "platform:catalog:write",
	"platform:audit:read", "webhooks:read", "webhooks:write", "events:publish",
	"platform:users:read", "platform:users:write", "system:tenants:write", "system:keys:write",
	"credentials:read", "credentials:write", "credentials:use", "graphql:introspect", "graphql:adhoc",
}

// requestIDRecorder is a RoundTripper that notes every response without
// X-Request-Id (API.md "Conventions": every response carries one). It
// never touches a testing.T, so clients that fetch in the background (the
// JWKS cache of go-oidc) cannot report after their test ended.
type requestIDRecorder struct {
	next    http.RoundTripper
	mu      sync.Mutex
	missing []string
}

func (r *requestIDRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := r.next.RoundTrip(req)
	if err == nil {
		noteAnswer(req.Method, req.URL.Path, res.StatusCode)
	}
	if err == nil && res.Header.Get("X-Request-Id") == "" {
		r.mu.Lock()
		r.missing = append(r.missing, fmt.Sprintf("%s %s → %d", req.Method, req.URL.Path, res.StatusCode))
		r.mu.Unlock()
	}
	return res, err
}

// httpClient is the HTTP client of t's requests: when t ends, every
// response that lacked X-Request-Id fails it.
func httpClient(t *testing.T) *http.Client {
	t.Helper()
	rec := &requestIDRecorder{next: http.DefaultTransport}
	t.Cleanup(func() {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, m := range rec.missing {
			t.Errorf("response without X-Request-Id: %s", m)
		}
	})
	return &http.Client{Transport: rec, Timeout: 30 * time.Second}
}

// api calls one server with one bearer token (none when empty).
type api struct {
	t     *testing.T
	s     *server
	hc    *http.Client
	token string
	// admin are the bootstrap admin's credentials, which active
	// introspects with.
	admin credentials
}

func newAPI(t *testing.T, s *server, token string) *api {
	t.Helper()
	return &api{t: t, s: s, hc: httpClient(t), token: token, admin: adminCreds()}
}

// in returns a for the (sub)test t.
func (a *api) in(t *testing.T) *api {
	b := *a
	b.t, b.hc = t, httpClient(t)
	return &b
}

// as returns a with another bearer token.
func (a *api) as(token string) *api {
	b := *a
	b.token = token
	return &b
}

// reply is a whole HTTP answer.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// decode unmarshals the body into v.
func (r reply) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r, err)
	}
}

func (r reply) String() string { return fmt.Sprintf("%d %s", r.Status, tail(string(r.Body), 2<<10)) }

// call sends method path with body: nil, a []byte or string sent as is,
// or anything else encoded as JSON. Content-Type is application/json for a
// body unless headers (name, value pairs) say otherwise.
func (a *api) call(method, path string, body any, headers ...string) reply {
	a.t.Helper()
	r, err := a.try(method, path, body, headers...)
	if err != nil {
		a.t.Fatal(err)
	}
	return r
}

// try is call for goroutines: it returns its error rather than failing
// the test.
func (a *api) try(method, path string, body any, headers ...string) (reply, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	case io.Reader:
		rd = b
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequestWithContext(a.t.Context(), method, a.s.URL+path, rd)
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return a.do(req)
}

func (a *api) send(req *http.Request) reply {
	a.t.Helper()
	r, err := a.do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	return r
}

func (a *api) do(req *http.Request) (reply, error) {
	res, err := a.hc.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return reply{}, fmt.Errorf("%s %s: read: %w", req.Method, req.URL.Path, err)
	}
	leaks.record(b)
	return reply{Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

// form POSTs an application/x-www-form-urlencoded body to path, with HTTP
// Basic credentials when user is not empty (RFC 6749 §2.3.1 encodes them
// first) and a's bearer token otherwise.
func (a *api) form(path string, vals url.Values, user, pass string) reply {
	a.t.Helper()
	req, err := http.NewRequestWithContext(ctx(a.t), http.MethodPost, a.s.URL+path, strings.NewReader(vals.Encode()))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	switch {
	case user != "":
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	case a.token != "":
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	return a.send(req)
}

// problem is an RFC 9457 problem document of the platform API.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// fields are the fields errors[] names.
func (p problem) fields() []string {
	out := make([]string, len(p.Errors))
	for i, e := range p.Errors {
		out[i] = e.Field
	}
	return out
}

// wantProblem checks that r is a problem+json of status and code, and
// returns it.
func wantProblem(t *testing.T, r reply, status int, code string) problem {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %s, want %d %s", r, status, code)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("Content-Type = %q, want application/problem+json (%s)", ct, r)
	}
	var p problem
	r.decode(t, &p)
	if p.Code != code || p.Status != status || p.Type == "" || p.Title == "" {
		t.Fatalf("problem = %+v, want code %s status %d with type and title", p, code, status)
	}
	return p
}

// oauthError is an RFC 6749 §5.2 error answer.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// wantOAuthError checks that r is an RFC 6749 §5.2 error of status and
// code.
func wantOAuthError(t *testing.T, r reply, status int, code string) {
	t.Helper()
	var e oauthError
	if r.Status != status || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("answer = %s (%s), want %d %s as JSON", r, r.Header.Get("Content-Type"), status, code)
	}
	r.decode(t, &e)
	if e.Error != code {
		t.Fatalf("error = %q (%s), want %q", e.Error, r, code)
	}
}

// appView is the App object (API.md "Apps").
type appView struct {
	ID                      string          `json:"id"`
	ClientID                string          `json:"client_id"`
	Name                    string          `json:"name"`
	GrantTypes              []string        `json:"grant_types"`
	RedirectURIs            []string        `json:"redirect_uris"`
	TokenEndpointAuthMethod string          `json:"token_endpoint_auth_method"`
	Active                  bool            `json:"active"`
	AccessTokenTTLSeconds   int             `json:"access_token_ttl_seconds"`
	Metadata                json.RawMessage `json:"metadata"`
	Scopes                  []struct {
		Scope  string `json:"scope"`
		Status string `json:"status"`
	} `json:"scopes"`
	Secrets []struct {
		ID        string     `json:"id"`
		CreatedAt time.Time  `json:"created_at"`
		ExpiresAt *time.Time `json:"expires_at"`
	} `json:"secrets"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	CreatedBy string    `json:"created_by"`
	Version   uint64    `json:"version"`
	// ClientSecret is only in the answer of create.
	ClientSecret string `json:"client_secret"`
}

// appList is the answer of GET /v1/platform/apps.
type appList struct {
	Items      []appView `json:"items"`
	NextCursor *string   `json:"next_cursor"`
}

// createApp registers an app; it must succeed, with a client secret
// exactly when its method uses one.
func (a *api) createApp(body map[string]any) appView {
	a.t.Helper()
	r := a.call(http.MethodPost, "/v1/platform/apps", body)
	if r.Status != http.StatusCreated {
		a.t.Fatalf("create app %v: %s", body, r)
	}
	var app appView
	r.decode(a.t, &app)
	// Apps of the secret methods get a secret; private_key_jwt and none none.
	method, _ := body["token_endpoint_auth_method"].(string)
	wantSecret := method == "" || method == "client_secret_basic" || method == "client_secret_post"
	if app.ID == "" || app.ClientID == "" || strings.HasPrefix(app.ClientSecret, "ghcs_") != wantSecret || (len(app.Secrets) == 1) != wantSecret {
		a.t.Fatalf("create app: incomplete answer %s", r.Body)
	}
	return app
}

// listAll pages through every app, limit at a time.
func (a *api) listAll(limit int) []appView {
	a.t.Helper()
	var all []appView
	cursor := ""
	for range 1000 {
		r := a.call(http.MethodGet, fmt.Sprintf("/v1/platform/apps?limit=%d&cursor=%s", limit, url.QueryEscape(cursor)), nil)
		if r.Status != http.StatusOK {
			a.t.Fatalf("list apps: %s", r)
		}
		var page appList
		r.decode(a.t, &page)
		all = append(all, page.Items...)
		if page.NextCursor == nil {
			return all
		}
		if *page.NextCursor == "" {
			a.t.Fatalf("next_cursor is empty rather than absent: %s", r.Body)
		}
		cursor = *page.NextCursor
	}
	a.t.Fatal("list apps: more than 1000 pages")
	return nil
}

// oauthContext makes golang.org/x/oauth2 and go-oidc use hc.
func oauthContext(t *testing.T, hc *http.Client) context.Context {
	return context.WithValue(ctx(t), oauth2.HTTPClient, hc)
}

// credentials are an app's client credentials and how it sends them.
type credentials struct {
	id, secret string
	style      oauth2.AuthStyle
}

func adminCreds() credentials {
	return credentials{adminID, adminSecret, oauth2.AuthStyleInHeader}
}

// appCreds are the credentials of app, sent the way its
// token_endpoint_auth_method says.
func appCreds(app appView) credentials {
	style := oauth2.AuthStyleInHeader
	if app.TokenEndpointAuthMethod == "client_secret_post" {
		style = oauth2.AuthStyleInParams
	}
	return credentials{app.ClientID, app.ClientSecret, style}
}

// tryMint runs the client_credentials grant with golang.org/x/oauth2.
func (a *api) tryMint(c credentials, scopes ...string) (*oauth2.Token, error) {
	a.t.Helper()
	cfg := clientcredentials.Config{
		ClientID: c.id, ClientSecret: c.secret, TokenURL: a.s.URL + "/v1/oauth/token",
		Scopes: scopes, AuthStyle: c.style,
	}
	return cfg.Token(oauthContext(a.t, a.hc))
}

// mint runs the client_credentials grant; it must succeed.
func (a *api) mint(c credentials, scopes ...string) *oauth2.Token {
	a.t.Helper()
	tok, err := a.tryMint(c, scopes...)
	if err != nil {
		a.t.Fatalf("token for %s %v: %v", c.id, scopes, err)
	}
	return tok
}

// wantTokenError checks that err is the token endpoint's RFC 6749 §5.2
// answer code with status.
func wantTokenError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("token error = %v, want %s", err, code)
	}
	if re.ErrorCode != code || re.Response.StatusCode != status {
		t.Fatalf("token error = %d %q (%s), want %d %q", re.Response.StatusCode, re.ErrorCode, re.Body, status, code)
	}
	if ct := re.Response.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("token error Content-Type = %q", ct)
	}
}

// adminAPI is an api of s authenticated as the bootstrap admin with every
// scope.
func adminAPI(t *testing.T, s *server) *api {
	t.Helper()
	a := newAPI(t, s, "")
	a.token = a.mint(adminCreds()).AccessToken
	return a
}

// accessClaims are the claims of an access token (RFC 9068 §2.2) plus tid.
type accessClaims struct {
	Issuer   string       `json:"iss"`
	Subject  string       `json:"sub"`
	Audience jwt.Audience `json:"aud"`
	ClientID string       `json:"client_id"`
	Scope    *string      `json:"scope"`
	JTI      string       `json:"jti"`
	IssuedAt *int64       `json:"iat"`
	Expiry   *int64       `json:"exp"`
	Tenant   string       `json:"tid"`
}

// jwks fetches the published key set.
func (a *api) jwks() jose.JSONWebKeySet {
	a.t.Helper()
	r := a.call(http.MethodGet, "/.well-known/jwks.json", nil)
	if r.Status != http.StatusOK {
		a.t.Fatalf("jwks: %s", r)
	}
	var set jose.JSONWebKeySet
	r.decode(a.t, &set)
	return set
}

// verifyJOSE verifies token with go-jose against the JWKS fetched over
// HTTP now, as a resource server would, and returns its header and
// claims.
func (a *api) verifyJOSE(token string) (jose.Header, accessClaims) {
	a.t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		a.t.Fatalf("parse access token: %v", err)
	}
	if len(jws.Signatures) != 1 {
		a.t.Fatalf("%d signatures", len(jws.Signatures))
	}
	h := jws.Signatures[0].Protected
	set := a.jwks()
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		a.t.Fatalf("the JWKS has %d keys of kid %q", len(keys), h.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		a.t.Fatalf("verify with %s: %v", h.KeyID, err)
	}
	var c accessClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		a.t.Fatal(err)
	}
	return h, c
}

// introspect asks /v1/oauth/introspect about token as creds.
func (a *api) introspect(c credentials, token string) map[string]any {
	a.t.Helper()
	r := a.form("/v1/oauth/introspect", url.Values{"token": {token}}, c.id, c.secret)
	if r.Status != http.StatusOK {
		a.t.Fatalf("introspect: %s", r)
	}
	var out map[string]any
	r.decode(a.t, &out)
	return out
}

// active introspects token as the admin and returns "active".
func (a *api) active(token string) bool {
	a.t.Helper()
	v, ok := a.introspect(a.admin, token)["active"].(bool)
	if !ok {
		a.t.Fatal("introspection lacks a boolean active")
	}
	return v
}

// uniqueName returns an app name no other test, nor another run of this
// one on the shared server (-count), uses: at most 90 characters.
func uniqueName(t *testing.T, suffix string) string {
	name := strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())
	return tail(name, 70) + "-" + suffix + "-" + rand.Text()[:6]
}
