package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/paths"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/httpapi"
)

// The bootstrap admin of the servers these tests open.
const (
	oasAdminID     = "oas-admin"
	oasAdminSecret = "oas-admin-secret-0123456789abcdef0123"
)

// openTestServer opens the real server, as serve does, on an embedded NATS
// in a temporary data directory: the event log, the components and the
// router. With start, the workers run too (projector, bootstrap, key
// rotator).
func openTestServer(t *testing.T, start bool) *Server {
	t.Helper()
	cfg, err := LoadConfig([]string{"--data-dir", t.TempDir(), "--stream-prefix", "t", "--master-key", validKey,
		"--bootstrap-client-id", oasAdminID, "--bootstrap-client-secret", oasAdminSecret}, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	s, err := Build(t.Context(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !start {
		t.Cleanup(func() { _ = s.Discard() })
		return s
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// echoParam turns echo's ":id" into OpenAPI's "{id}".
var echoParam = regexp.MustCompile(`:([A-Za-z_][A-Za-z0-9_]*)`)

// registeredOperations lists the router's routes as "METHOD /path/{param}".
func registeredOperations(e *echo.Echo) []string {
	var ops []string
	for _, r := range e.Routes() {
		if r.Method == echo.RouteNotFound {
			continue
		}
		path := echoParam.ReplaceAllString(r.Path, "{$1}")
		if strings.HasSuffix(path, "/*") { // echo's rest-of-path wildcard (the proxy)
			path = strings.TrimSuffix(path, "*") + "{path}"
		}
		ops = append(ops, r.Method+" "+path)
	}
	slices.Sort(ops)
	return slices.Compact(ops)
}

// documentedOperations lists the document's operations as
// "METHOD /path/{param}".
func documentedOperations(t *testing.T, doc []byte) []string {
	t.Helper()
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for path, item := range d.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				ops = append(ops, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(ops)
	return ops
}

// TestOpenAPIRouteParity fails when the server registers a route that
// /v1/openapi.json does not document, or documents one it does not serve.
func TestOpenAPIRouteParity(t *testing.T) {
	s := openTestServer(t, false)
	doc, err := authz.OpenAPIDocument("http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	registered, documented := registeredOperations(s.Router), documentedOperations(t, doc)
	for _, op := range registered {
		if !slices.Contains(documented, op) {
			t.Errorf("%s is served but not documented: add it to authz/openapi.json", op)
		}
	}
	for _, op := range documented {
		if !slices.Contains(registered, op) {
			t.Errorf("%s is documented but not served", op)
		}
	}
	if len(registered) < 15 {
		t.Errorf("only %d routes registered: %v", len(registered), registered)
	}
}

// conformance drives a running server and checks every answer against the
// OpenAPI document that server serves: the status is documented for the
// operation, the body matches its schema and media type, and
// X-Request-Id is set.
type conformance struct {
	t     *testing.T
	url   string
	doc   map[string]any
	model *libopenapi.DocumentModel[v3.Document]
	v     validator.Validator
	seen  map[string]bool // "METHOD /template STATUS"
}

func newConformance(t *testing.T) *conformance {
	t.Helper()
	s := openTestServer(t, true)
	srv := httptest.NewServer(s.Router)
	t.Cleanup(srv.Close)
	c := &conformance{t: t, url: srv.URL, seen: map[string]bool{}}
	res, err := http.Get(srv.URL + authz.OpenAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %v", authz.OpenAPIPath, res.StatusCode, err)
	}
	if err := json.Unmarshal(raw, &c.doc); err != nil {
		t.Fatal(err)
	}
	d, err := libopenapi.NewDocument(raw)
	if err != nil {
		t.Fatal(err)
	}
	if c.model, err = d.BuildV3Model(); err != nil {
		t.Fatal(err)
	}
	c.v = validator.NewValidatorFromV3Model(&c.model.Model)
	c.waitReady()
	return c
}

// waitReady polls /readyz until the signing key is active.
func (c *conformance) waitReady() {
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		res, err := http.Get(c.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	c.t.Fatal("not ready within 30s")
}

// request builds a request; headers come in name, value pairs.
func (c *conformance) request(method, path string, body io.Reader, headers ...string) *http.Request {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.url+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// jsonRequest builds a request with a JSON body (none when body is nil)
// and a bearer token (none when empty).
func (c *conformance) jsonRequest(method, path, token string, body any, headers ...string) *http.Request {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(b)
		headers = append(headers, "Content-Type", "application/json")
	}
	if token != "" {
		headers = append(headers, "Authorization", "Bearer "+token)
	}
	return c.request(method, path, r, headers...)
}

// formRequest builds an OAuth request with HTTP Basic client credentials
// (none when user is empty).
func (c *conformance) formRequest(path, user, pass string, form url.Values) *http.Request {
	c.t.Helper()
	req := c.request(http.MethodPost, path, strings.NewReader(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return req
}

// do sends req, wants status, checks the answer against the document and
// returns its body.
func (c *conformance) do(req *http.Request, status int) []byte {
	c.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		c.t.Fatal(err)
	}
	name := req.Method + " " + req.URL.Path
	if res.StatusCode != status {
		c.t.Fatalf("%s = %d, want %d: %s", name, res.StatusCode, status, body)
	}
	if res.Header.Get("X-Request-Id") == "" {
		c.t.Errorf("%s: no X-Request-Id", name)
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	if ok, errs := c.v.ValidateHttpResponse(req, res); !ok {
		for _, e := range errs {
			c.t.Errorf("%s %d does not match the document: %s: %s", name, status, e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				c.t.Errorf("  at %s: %s", se.FieldPath, se.Reason)
			}
		}
		c.t.Logf("body: %s", body)
	}
	if _, _, tmpl := paths.FindPath(req, &c.model.Model, nil); tmpl != "" {
		c.seen[fmt.Sprintf("%s %s %d", req.Method, tmpl, status)] = true
	}
	return body
}

// decode unmarshals a JSON body into v.
func (c *conformance) decode(body []byte, v any) {
	c.t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		c.t.Fatalf("%s: %v", body, err)
	}
}

// token mints a client_credentials token for client id.
func (c *conformance) token(id, secret string) string {
	c.t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	c.decode(c.do(c.formRequest("/v1/oauth/token", id, secret, url.Values{"grant_type": {"client_credentials"}}), http.StatusOK), &tok)
	return tok.AccessToken
}

// unexercised lists the documented "METHOD /template STATUS" answers no
// request of the test got.
func (c *conformance) unexercised() []string {
	var out []string
	for _, o := range c.operationsOf() {
		rs, _ := o.op["responses"].(map[string]any)
		for status := range rs {
			if key := o.method + " " + o.path + " " + status; !c.seen[key] {
				out = append(out, key)
			}
		}
	}
	slices.Sort(out)
	return out
}

// docOperation is one operation of the document.
type docOperation struct {
	method, path string // "GET", "/v1/platform/apps/{id}"
	op           map[string]any
}

// operationsOf lists the document's operations.
func (c *conformance) operationsOf() []docOperation {
	var ops []docOperation
	for path, item := range c.doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			if o, ok := op.(map[string]any); ok && method != "parameters" {
				ops = append(ops, docOperation{strings.ToUpper(method), path, o})
			}
		}
	}
	return ops
}

// appCreated is what the tests read of a 201 of POST /v1/platform/apps.
type appCreated struct {
	ID           string `json:"id"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Version      int    `json:"version"`
}

// TestOpenAPIAnswersConform sends the real server a request for every
// documented operation, and for most of their documented statuses, and
// checks each answer against the document.
func TestOpenAPIAnswersConform(t *testing.T) {
	c := newConformance(t)
	c.operations()
	admin := c.token(oasAdminID, oasAdminSecret)
	bare := c.apps(admin)
	c.scopes(bare)
	c.oauth(admin, bare)
	c.keys(admin)
	c.governance(admin)
	c.feed(admin)
	c.catalogEntries(admin)
	t.Logf("documented answers not exercised:\n  %s", strings.Join(c.unexercised(), "\n  "))
}

// operations checks the unauthenticated GETs.
func (c *conformance) operations() {
	c.t.Helper()
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/.well-known/openid-configuration",
		"/.well-known/oauth-authorization-server", authz.OpenAPIPath} {
		c.do(c.request(http.MethodGet, p, nil), http.StatusOK)
	}
	res, err := http.Get(c.url + "/.well-known/jwks.json")
	if err != nil {
		c.t.Fatal(err)
	}
	res.Body.Close()
	c.do(c.request(http.MethodGet, "/.well-known/jwks.json", nil), http.StatusOK)
	c.do(c.request(http.MethodGet, "/.well-known/jwks.json", nil, "If-None-Match", res.Header.Get("ETag")), http.StatusNotModified)
}

// apps walks the apps API through its answers, and returns a client of an
// app that holds no scope.
func (c *conformance) apps(admin string) appCreated {
	c.t.Helper()
	const apps = "/v1/platform/apps"
	c.do(c.jsonRequest(http.MethodPost, apps, "", map[string]any{"name": "x"}), http.StatusUnauthorized)
	var app appCreated
	c.decode(c.do(c.jsonRequest(http.MethodPost, apps, admin, map[string]any{"name": "conformance", "metadata": map[string]any{"team": "a"}},
		"Idempotency-Key", "k1"), http.StatusCreated), &app)
	c.do(c.jsonRequest(http.MethodPost, apps, admin, map[string]any{"name": "conformance", "metadata": map[string]any{"team": "a"}},
		"Idempotency-Key", "k1"), http.StatusCreated)
	c.do(c.jsonRequest(http.MethodPost, apps, admin, map[string]any{"name": "other"}, "Idempotency-Key", "k1"), http.StatusUnprocessableEntity)
	c.do(c.jsonRequest(http.MethodPost, apps, admin, map[string]any{"name": "conformance"}), http.StatusConflict)
	c.do(c.jsonRequest(http.MethodPost, apps, admin, map[string]any{"name": "", "grant_types": []string{"password"}}), http.StatusBadRequest)
	c.do(c.request(http.MethodPost, apps, strings.NewReader(`{"name":"y"}`), "Authorization", "Bearer "+admin, "Content-Type", "text/plain"), http.StatusUnsupportedMediaType)
	big := `{"name":"big","metadata":{"x":"` + strings.Repeat("a", httpapi.DefaultBodyLimit) + `"}}`
	c.do(c.request(http.MethodPost, apps, strings.NewReader(big), "Authorization", "Bearer "+admin, "Content-Type", "application/json"), http.StatusRequestEntityTooLarge)

	c.do(c.jsonRequest(http.MethodGet, apps+"?limit=1", admin, nil), http.StatusOK)
	c.do(c.jsonRequest(http.MethodGet, apps+"?limit=0", admin, nil), http.StatusBadRequest)
	one := apps + "/" + app.ID
	c.do(c.jsonRequest(http.MethodGet, one, admin, nil), http.StatusOK)
	c.do(c.jsonRequest(http.MethodGet, apps+"/app_missing", admin, nil), http.StatusNotFound)
	c.do(c.jsonRequest(http.MethodPatch, one, admin, map[string]any{"name": "renamed"}, "If-Match", `"999"`), http.StatusPreconditionFailed)
	c.do(c.jsonRequest(http.MethodPatch, one, admin, map[string]any{"colour": "red"}), http.StatusBadRequest)
	c.do(c.jsonRequest(http.MethodPatch, one, admin, map[string]any{"name": "admin"}), http.StatusConflict)
	c.do(c.jsonRequest(http.MethodPatch, apps+"/app_missing", admin, map[string]any{"name": "z"}), http.StatusNotFound)
	c.do(c.request(http.MethodPatch, one, strings.NewReader(`{"name":"z"}`), "Authorization", "Bearer "+admin), http.StatusUnsupportedMediaType)
	c.do(c.request(http.MethodPatch, one, strings.NewReader(big), "Authorization", "Bearer "+admin, "Content-Type", "application/json"), http.StatusRequestEntityTooLarge)
	c.do(c.jsonRequest(http.MethodPatch, one, admin, map[string]any{"name": "renamed"}, "If-Match", fmt.Sprintf(`"%d"`, app.Version)), http.StatusOK)
	c.do(c.jsonRequest(http.MethodDelete, one, admin, nil, "If-Match", `"1"`), http.StatusPreconditionFailed)
	c.do(c.jsonRequest(http.MethodDelete, one, admin, nil), http.StatusNoContent)
	c.do(c.jsonRequest(http.MethodDelete, one, admin, nil), http.StatusNotFound)

	var bare appCreated
	c.decode(c.do(c.jsonRequest(http.MethodPost, apps, admin, map[string]any{"name": "no-scopes"}), http.StatusCreated), &bare)
	return bare
}

// challengeScope is the scope of a WWW-Authenticate insufficient_scope
// challenge.
var challengeScope = regexp.MustCompile(`scope="([^"]*)"`)

// scopes calls every platform operation with a token holding no scope: each
// must answer 403 naming the scope its document's security requirement
// names, and 401 without a token.
func (c *conformance) scopes(bare appCreated) {
	c.t.Helper()
	tok := c.token(bare.ClientID, bare.ClientSecret)
	for _, o := range c.operationsOf() {
		method, path := o.method, o.path
		sec, _ := o.op["security"].([]any)
		if !strings.HasPrefix(path, "/v1/platform/") || len(sec) != 1 {
			continue
		}
		want := fmt.Sprint(sec[0].(map[string]any)["platformToken"])
		p := strings.ReplaceAll(path, "{id}", "app_missing")
		c.do(c.jsonRequest(method, p, "", nil), http.StatusUnauthorized)
		if want == "[]" {
			continue // any valid token of the tenant
		}
		res, err := http.DefaultClient.Do(c.jsonRequest(method, p, tok, nil))
		if err != nil {
			c.t.Fatal(err)
		}
		res.Body.Close()
		m := challengeScope.FindStringSubmatch(res.Header.Get("WWW-Authenticate"))
		if m == nil || fmt.Sprint(m[1:]) != want {
			c.t.Errorf("%s %s: the server asks for %q, the document says %s", method, path, m, want)
		}
		c.do(c.jsonRequest(method, p, tok, nil), http.StatusForbidden)
	}
}

// keys checks the forced rotation's answers.
func (c *conformance) keys(admin string) {
	c.t.Helper()
	const rotate = "/v1/platform/keys/rotate"
	c.do(c.jsonRequest(http.MethodPost, rotate, admin, nil, "Idempotency-Key", strings.Repeat("k", 256)), http.StatusBadRequest)
	c.do(c.request(http.MethodPost, rotate, strings.NewReader(strings.Repeat("a", httpapi.DefaultBodyLimit+1)), "Authorization", "Bearer "+admin), http.StatusRequestEntityTooLarge)
	c.do(c.jsonRequest(http.MethodPost, rotate, admin, nil), http.StatusAccepted)
}

// oauth checks the OAuth endpoints' answers.
func (c *conformance) oauth(admin string, bare appCreated) {
	c.t.Helper()
	const token, introspect, revoke = "/v1/oauth/token", "/v1/oauth/introspect", "/v1/oauth/revoke"
	cc := url.Values{"grant_type": {"client_credentials"}}
	c.do(c.formRequest(token, oasAdminID, "wrong-secret", cc), http.StatusUnauthorized)
	c.do(c.formRequest(token, "", "", cc), http.StatusUnauthorized)
	c.do(c.formRequest(token, oasAdminID, oasAdminSecret, url.Values{"grant_type": {"password"}}), http.StatusBadRequest)
	c.do(c.formRequest(token, bare.ClientID, bare.ClientSecret, url.Values{"grant_type": {"client_credentials"}, "scope": {"system:keys:write"}}), http.StatusBadRequest)
	// A token exchange naming no credential of the app: invalid_target
	// (RFC 8693 §2.2.2), one of the documented codes.
	c.do(c.formRequest(token, oasAdminID, oasAdminSecret, url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token": {admin}, "subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "resource": {"cred_missing"}}), http.StatusBadRequest)

	c.do(c.formRequest(introspect, oasAdminID, oasAdminSecret, url.Values{"token": {admin}}), http.StatusOK)
	c.do(c.formRequest(introspect, oasAdminID, oasAdminSecret, url.Values{"token": {"not-a-token"}}), http.StatusOK)
	c.do(c.formRequest(introspect, oasAdminID, oasAdminSecret, url.Values{}), http.StatusBadRequest)
	c.do(c.formRequest(introspect, oasAdminID, "wrong-secret", url.Values{"token": {admin}}), http.StatusUnauthorized)

	own := c.token(bare.ClientID, bare.ClientSecret)
	c.do(c.formRequest(revoke, oasAdminID, oasAdminSecret, url.Values{"token": {own}}), http.StatusBadRequest)
	c.do(c.formRequest(revoke, bare.ClientID, bare.ClientSecret, url.Values{}), http.StatusBadRequest)
	c.do(c.formRequest(revoke, bare.ClientID, "wrong-secret", url.Values{"token": {own}}), http.StatusUnauthorized)
	c.do(c.formRequest(revoke, bare.ClientID, bare.ClientSecret, url.Values{"token": {own}}), http.StatusOK)
	big := url.Values{"token": {strings.Repeat("a", httpapi.DefaultBodyLimit)}, "grant_type": {"client_credentials"}}
	for _, p := range []string{token, introspect, revoke} {
		c.do(c.formRequest(p, bare.ClientID, bare.ClientSecret, big), http.StatusRequestEntityTooLarge)
	}
}
