package server

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// secretFields are the answer members that carry a secret or a token.
var secretFields = []string{"client_secret", "secret", "access_token", "refresh_token", "id_token"}

// secretOperations lists the document's operations ("METHOD /path") whose
// 2xx answer schema has a member named in secretFields, at any depth.
func (c *conformance) secretOperations() []string {
	var out []string
	for _, o := range c.operationsOf() {
		rs, _ := o.op["responses"].(map[string]any)
		for status, r := range rs {
			if strings.HasPrefix(status, "2") && c.holdsSecret(r, 0) {
				out = append(out, o.method+" "+o.path)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// holdsSecret walks a part of the document, following $ref, for a
// "properties" member named in secretFields.
func (c *conformance) holdsSecret(v any, depth int) bool {
	if depth > 20 {
		return false
	}
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok {
			return c.holdsSecret(c.resolve(ref), depth+1)
		}
		if props, ok := v["properties"].(map[string]any); ok {
			for name := range props {
				if slices.Contains(secretFields, name) {
					return true
				}
			}
		}
		for k, x := range v {
			if k != "examples" && k != "example" && c.holdsSecret(x, depth+1) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if c.holdsSecret(x, depth+1) {
				return true
			}
		}
	}
	return false
}

// resolve returns the part of the document a local $ref names.
func (c *conformance) resolve(ref string) any {
	var v any = c.doc
	for _, p := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}

// TestSecretAnswersAreNoStore: every documented operation whose answer
// carries a secret or a token answers Cache-Control: no-store and Pragma:
// no-cache (RFC 6749 §5.1), on its first answer and on an idempotent
// replay, and the document says so. The operations are found in the
// document, so a new one fails this test until it is added here.
func TestSecretAnswersAreNoStore(t *testing.T) {
	c := newConformance(t)
	admin := c.token(oasAdminID, oasAdminSecret)
	var app appCreated
	c.decode(c.do(c.jsonRequest(http.MethodPost, "/v1/platform/apps", admin, map[string]any{"name": "no-store"}), http.StatusCreated), &app)
	var apps struct {
		Items []appCreated `json:"items"`
	}
	c.decode(c.do(c.jsonRequest(http.MethodGet, "/v1/platform/apps?limit=500", admin, nil), http.StatusOK), &apps)
	i := slices.IndexFunc(apps.Items, func(a appCreated) bool { return a.ClientID == oasAdminID })
	if i < 0 {
		t.Fatal("no admin app")
	}
	adminApp := apps.Items[i].ID
	var hook struct {
		ID string `json:"id"`
	}
	c.decode(c.do(c.jsonRequest(http.MethodPost, "/v1/webhooks", admin, map[string]any{"url": "https://93.184.215.14/hook", "events": []string{"app.created"}}), http.StatusCreated), &hook)

	type call struct {
		req    func(key string) *http.Request
		status int
	}
	post := func(path string, body any, status int) call {
		return call{func(key string) *http.Request {
			return c.jsonRequest(http.MethodPost, path, admin, body, "Idempotency-Key", key)
		}, status}
	}
	calls := map[string]call{
		"POST /v1/oauth/token": {func(string) *http.Request {
			return c.formRequest("/v1/oauth/token", oasAdminID, oasAdminSecret, url.Values{"grant_type": {"client_credentials"}})
		}, http.StatusOK},
		// A PATCH of the auth method to a secret method answers the
		// app's new secret when it had none; the route is no-store always.
		"PATCH /v1/platform/apps/{id}": {func(string) *http.Request {
			return c.jsonRequest(http.MethodPatch, "/v1/platform/apps/"+app.ID, admin, map[string]any{"token_endpoint_auth_method": "client_secret_post"})
		}, http.StatusOK},
		"POST /v1/platform/apps":               post("/v1/platform/apps", map[string]any{"name": "no-store 2"}, http.StatusCreated),
		"POST /v1/platform/apps/{id}/secrets":  post("/v1/platform/apps/"+app.ID+"/secrets", map[string]any{"grace_period_seconds": 0}, http.StatusCreated),
		"POST /v1/platform/apps/{id}/tokens":   post("/v1/platform/apps/"+adminApp+"/tokens", map[string]any{"scopes": []string{"platform:apps:read"}}, http.StatusCreated),
		"POST /v1/tenants":                     post("/v1/tenants", map[string]any{"name": "no-store"}, http.StatusCreated),
		"POST /v1/webhooks":                    post("/v1/webhooks", map[string]any{"url": "https://93.184.215.14/other", "events": []string{"app.created"}}, http.StatusCreated),
		"POST /v1/webhooks/{id}/secret/rotate": post("/v1/webhooks/"+hook.ID+"/secret/rotate", map[string]any{"grace_period_seconds": 0}, http.StatusCreated),
	}
	ops := c.secretOperations()
	if keys := slices.Sorted(func(yield func(string) bool) {
		for k := range calls {
			if !yield(k) {
				return
			}
		}
	}); !slices.Equal(keys, ops) {
		t.Fatalf("operations whose answer carries a secret:\n  document: %v\n  this test: %v", ops, keys)
	}
	for _, op := range ops {
		t.Run(op, func(t *testing.T) {
			cl := calls[op]
			for n := range 2 { // the answer, then its idempotent replay
				res := c.send(cl.req("no-store-"+op), cl.status)
				if cc, pr := res.Get("Cache-Control"), res.Get("Pragma"); cc != "no-store" || pr != "no-cache" {
					t.Errorf("answer %d: Cache-Control %q, Pragma %q; want no-store, no-cache", n+1, cc, pr)
				}
				if n == 1 && strings.HasPrefix(op, "POST ") && op != "POST /v1/oauth/token" && res.Get("Idempotent-Replayed") != "true" {
					t.Errorf("the second answer is not a replay")
				}
			}
			c.documentsNoStore(op, cl.status)
		})
	}
}

// send sends req, wants status and returns the answer's header.
func (c *conformance) send(req *http.Request, status int) http.Header {
	c.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != status {
		c.t.Fatalf("%s %s = %d, want %d: %s", req.Method, req.URL.Path, res.StatusCode, status, body)
	}
	return res.Header
}

// documentsNoStore checks that the document declares both headers on the
// answer status of op.
func (c *conformance) documentsNoStore(op string, status int) {
	method, path, _ := strings.Cut(op, " ")
	item, _ := c.doc["paths"].(map[string]any)[path].(map[string]any)
	o, _ := item[strings.ToLower(method)].(map[string]any)
	rs, _ := o["responses"].(map[string]any)
	r, _ := rs[strconv.Itoa(status)].(map[string]any)
	hs, _ := r["headers"].(map[string]any)
	for _, h := range []string{"Cache-Control", "Pragma"} {
		if _, ok := hs[h]; !ok {
			c.t.Errorf("the document does not declare %s on %s %d", h, op, status)
		}
	}
}
