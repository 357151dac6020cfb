package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// gqlReply is a GraphQL response (GraphQL over HTTP, application/json).
type gqlReply struct {
	reply
	Data   map[string]json.RawMessage `json:"data"`
	Errors []gqlError                 `json:"errors"`
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// gqlClient sends GraphQL requests as plain HTTP and validates every
// document it sends against the schema the server serves (the SDL of
// GET /v1/graphql/schema), with gqlparser: a document the schema does not
// accept fails the test before it is sent.
type gqlClient struct {
	t      *testing.T
	a      *api
	schema *ast.Schema
}

func newGQL(t *testing.T, a *api) *gqlClient {
	t.Helper()
	r := a.call(http.MethodGet, "/v1/graphql/schema", nil)
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /v1/graphql/schema: %s", r)
	}
	schema, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: string(r.Body)})
	if err != nil {
		t.Fatalf("the served SDL does not parse: %v", err)
	}
	return &gqlClient{t: t, a: a, schema: schema}
}

// valid fails the test unless doc is a valid document of the schema.
func (g *gqlClient) valid(doc string) {
	g.t.Helper()
	if _, errs := gqlparser.LoadQueryWithRules(g.schema, doc, nil); len(errs) > 0 {
		g.t.Fatalf("document does not validate against the served schema: %v\n%s", errs, doc)
	}
}

// do POSTs body to /v1/graphql with token (a document in body["query"]
// is validated first).
func (g *gqlClient) do(token string, body map[string]any, headers ...string) gqlReply {
	g.t.Helper()
	if q, ok := body["query"].(string); ok {
		g.valid(q)
	}
	return g.decode(g.a.as(token).call(http.MethodPost, "/v1/graphql", body, headers...))
}

func (g *gqlClient) decode(r reply) gqlReply {
	g.t.Helper()
	out := gqlReply{reply: r}
	if r.Status == http.StatusOK {
		r.decode(g.t, &out)
	}
	return out
}

// ok runs query with variables; it must answer data and no error.
func (g *gqlClient) ok(token, query string, vars map[string]any, out any) {
	g.t.Helper()
	r := g.do(token, map[string]any{"query": query, "variables": vars})
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		g.t.Fatalf("%s\n=> %s", query, r.reply)
	}
	if out != nil {
		b, _ := json.Marshal(r.Data)
		if err := json.Unmarshal(b, out); err != nil {
			g.t.Fatalf("data %s: %v", b, err)
		}
	}
}

// wantGQLError checks that r's first error has the REST problem code.
func wantGQLError(t *testing.T, r gqlReply, code string) gqlError {
	t.Helper()
	if r.Status != http.StatusOK || len(r.Errors) == 0 {
		t.Fatalf("want a GraphQL error %s, got %s", code, r.reply)
	}
	if got := r.Errors[0].Extensions["code"]; got != code {
		t.Fatalf("error code %v, want %s: %s", got, code, r.reply)
	}
	return r.Errors[0]
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

const gqlApp = `fragment AppFields on App {
  id client_id name grant_types redirect_uris token_endpoint_auth_method jwks active access_token_ttl_seconds metadata
  scopes { scope status decided_by decided_at reason approvals }
  grants { grant_type status approvals }
  redirect_uri_approvals { redirect_uri status approvals }
  secrets { id created_at expires_at }
  created_at updated_at created_by version
}`

type gqlAppView struct {
	ID       string `json:"id"`
	ClientID string `json:"client_id"`
	Name     string `json:"name"`
	Version  int    `json:"version"`
	Metadata map[string]any
	Scopes   []struct {
		Scope, Status string
	} `json:"scopes"`
	Secrets []struct {
		ID string `json:"id"`
	} `json:"secrets"`
	Webhooks []struct {
		ID, URL string
	} `json:"webhooks"`
}

// TestGraphQL (issue 17) drives the GraphQL transport of the real binary
// with plain HTTP, every document validated against the served SDL:
// every query and mutation of the schema answered by its REST twin,
// scope refusals with the REST codes, introspection refused and allowed,
// approved operations by id and by hash (POST and GET), a document not
// approved refused, depth and cost limits, idempotent mutations (by
// argument and by header), GET refusing mutations.
func TestGraphQL(t *testing.T) {
	t.Parallel()
	s := startServer(t, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"), withEnv("WEBHOOK_RETRY_SCHEDULE", "1s"),
		withEnv("GRAPHQL_MAX_DEPTH", "6"))
	root := adminAPI(t, s)
	ad, adCreds := isolationTenant(t, s, root, "gql")
	admin := ad.token
	g := newGQL(t, ad)

	// Mutations: the same commands as REST.
	const create = `mutation Create($in: AppCreateInput!, $key: String) {
  create_app(input: $in, idempotency_key: $key) { app { ...AppFields } client_secret }
}
` + gqlApp
	var created struct {
		CreateApp struct {
			App          gqlAppView `json:"app"`
			ClientSecret string     `json:"client_secret"`
		} `json:"create_app"`
	}
	name := uniqueName(t, "gql-app")
	vars := map[string]any{"in": map[string]any{"name": name, "requested_scopes": []string{"platform:apps:read"}, "metadata": map[string]any{"team": "a"}}, "key": "gql-create-1"}
	first := g.do(admin, map[string]any{"query": create, "variables": vars})
	if len(first.Errors) > 0 {
		t.Fatalf("create_app: %s", first.reply)
	}
	first.reply.decode(t, &struct {
		Data any `json:"data"`
	}{})
	b, _ := json.Marshal(first.Data)
	_ = json.Unmarshal(b, &created)
	app := created.CreateApp.App
	if !strings.HasPrefix(created.CreateApp.ClientSecret, "ghcs_") || app.ID == "" || app.Scopes[0].Status != "pending" || app.Metadata["team"] != "a" {
		t.Fatalf("create_app answer: %s", first.Body)
	}
	// The same key and input: the first answer again, and one app.
	if again := g.do(admin, map[string]any{"query": create, "variables": vars}); !bytes.Equal(again.Body, first.Body) {
		t.Fatalf("create_app replay:\n%s\n%s", first.Body, again.Body)
	}
	if n := strings.Count(string(ad.call(http.MethodGet, "/v1/platform/apps?limit=500", nil).Body), `"name":"`+name+`"`); n != 1 {
		t.Fatalf("%d apps named %s after a replay", n, name)
	}
	// The same key, another input: the REST store's 422, as the code.
	vars2 := map[string]any{"in": map[string]any{"name": name + "-2"}, "key": "gql-create-1"}
	wantGQLError(t, g.do(admin, map[string]any{"query": create, "variables": vars2}), "idempotency_key_reused")
	// The leak watch saw the secret in the GraphQL answer (api.do records nested members).
	if !containsAll(leaks.all(), []string{created.CreateApp.ClientSecret}) {
		t.Fatal("the leak watch did not record the client_secret of a GraphQL answer")
	}

	const update = `mutation($id: ID!, $in: AppPatchInput!, $v: Int) { update_app(id: $id, input: $in, if_match: $v) { app { id version metadata } client_secret } }`
	var upd struct {
		UpdateApp struct{ App gqlAppView } `json:"update_app"`
	}
	g.ok(admin, update, map[string]any{"id": app.ID, "in": map[string]any{"metadata": map[string]any{"team": "b"}}, "v": app.Version}, &upd)
	if upd.UpdateApp.App.Version != app.Version+1 || upd.UpdateApp.App.Metadata["team"] != "b" {
		t.Fatalf("update_app: %+v", upd)
	}
	wantGQLError(t, g.do(admin, map[string]any{"query": update, "variables": map[string]any{"id": app.ID, "in": map[string]any{"name": "x"}, "v": app.Version}}), "precondition_failed")
	bad := wantGQLError(t, g.do(admin, map[string]any{"query": update, "variables": map[string]any{"id": app.ID, "in": map[string]any{"access_token_ttl_seconds": 1}}}), "validation_error")
	if !strings.Contains(string(mustJSON(t, bad.Extensions["errors"])), "access_token_ttl_seconds") {
		t.Fatalf("validation error without the field: %+v", bad)
	}

	var req struct {
		RequestScopes gqlAppView `json:"request_scopes"`
	}
	g.ok(admin, `mutation($id: ID!) { request_scopes(app_id: $id, scopes: ["webhooks:read"], idempotency_key: "gql-req-1") { id scopes { scope status } } }`, map[string]any{"id": app.ID}, &req)
	if !strings.Contains(string(mustJSON(t, req.RequestScopes.Scopes)), `"webhooks:read","Status":"pending"`) {
		t.Fatalf("request_scopes: %+v", req)
	}
	var dec struct {
		DecideScope gqlAppView `json:"decide_scope"`
	}
	g.ok(admin, `mutation($id: ID!) { decide_scope(app_id: $id, input: {scope: "platform:apps:read", decision: "approve"}) { id scopes { scope status } } }`, map[string]any{"id": app.ID}, &dec)
	if dec.DecideScope.Scopes[0].Status != "approved" {
		t.Fatalf("decide_scope: %+v", dec)
	}
	var rot struct {
		RotateSecret struct {
			ID           string `json:"id"`
			ClientSecret string `json:"client_secret"`
		} `json:"rotate_secret"`
	}
	g.ok(admin, `mutation($id: ID!) { rotate_secret(app_id: $id, grace_period_seconds: 0) { id client_secret created_at previous_expires_at } }`, map[string]any{"id": app.ID}, &rot)
	if !strings.HasPrefix(rot.RotateSecret.ClientSecret, "ghcs_") {
		t.Fatalf("rotate_secret: %+v", rot)
	}
	reader := ad.mint(credentials{app.ClientID, rot.RotateSecret.ClientSecret, 0}).AccessToken

	// Webhooks: one delivering, one failing (nothing listens on port 1).
	typ, _ := webhookTenant(t, ad)
	rcv := newReceiver(t)
	var hook struct {
		CreateWebhook struct {
			Webhook struct{ ID, Status string } `json:"webhook"`
			Secret  string                      `json:"secret"`
		} `json:"create_webhook"`
	}
	g.ok(admin, `mutation($in: WebhookCreateInput!) { create_webhook(input: $in) { webhook { id app_id url events description status created_at updated_at version } secret } }`,
		map[string]any{"in": map[string]any{"url": rcv.srv.URL, "events": []string{typ}, "description": "gql"}}, &hook)
	if !strings.HasPrefix(hook.CreateWebhook.Secret, "whsec_") || hook.CreateWebhook.Webhook.Status != "active" {
		t.Fatalf("create_webhook: %+v", hook)
	}
	failing := ad.subscribe("http://127.0.0.1:1/hook", typ)
	var pub struct {
		PublishEvent struct {
			ID  string `json:"id"`
			Seq int64  `json:"seq"`
		} `json:"publish_event"`
	}
	g.ok(admin, `mutation($t: String!) { publish_event(input: {type: $t, data: {n: 1}}, idempotency_key: "gql-pub-1") { id seq } }`, map[string]any{"t": typ}, &pub)
	if pub.PublishEvent.ID == "" || pub.PublishEvent.Seq == 0 {
		t.Fatalf("publish_event: %+v", pub)
	}
	failed := waitDelivery(t, ad, failing.ID, "failed")
	var retried struct {
		RetryDelivery struct{ ID, Status string } `json:"retry_delivery"`
	}
	g.ok(admin, `mutation($h: ID!, $d: ID!) { retry_delivery(webhook_id: $h, delivery_id: $d) { id event_id event_type status created_at next_attempt_at attempts { n at status_code duration_ms error response_body } } }`,
		map[string]any{"h": failing.ID, "d": failed}, &retried)
	if retried.RetryDelivery.ID != failed {
		t.Fatalf("retry_delivery: %+v", retried)
	}
	waitDelivery(t, ad, hook.CreateWebhook.Webhook.ID, "delivered")

	// Queries: every root field, its nested fields, through the REST twins.
	var q struct {
		Apps struct {
			Nodes    []gqlAppView `json:"nodes"`
			PageInfo struct {
				EndCursor   *string `json:"end_cursor"`
				HasNextPage bool    `json:"has_next_page"`
			} `json:"page_info"`
		} `json:"apps"`
	}
	g.ok(admin, `query($first: Int, $after: String) { apps(first: $first, after: $after) { nodes { ...AppFields webhooks { id url } } page_info { end_cursor has_next_page } } }`+"\n"+gqlApp,
		map[string]any{"first": 1}, &q)
	if len(q.Apps.Nodes) != 1 || !q.Apps.PageInfo.HasNextPage || q.Apps.PageInfo.EndCursor == nil {
		t.Fatalf("apps page 1: %+v", q.Apps)
	}
	seen := map[string]bool{}
	for cursor := q.Apps.PageInfo.EndCursor; ; cursor = q.Apps.PageInfo.EndCursor {
		for _, n := range q.Apps.Nodes {
			seen[n.ID] = true
			if n.ID == failing.AppID && len(n.Webhooks) != 2 {
				t.Fatalf("the admin app's webhooks: %+v", n.Webhooks)
			}
		}
		if cursor == nil {
			break
		}
		g.ok(admin, `query($first: Int, $after: String) { apps(first: $first, after: $after) { nodes { id webhooks { id url } } page_info { end_cursor has_next_page } } }`,
			map[string]any{"first": 1, "after": *cursor}, &q)
	}
	if !seen[app.ID] || !seen[failing.AppID] || len(seen) != 2 {
		t.Fatalf("apps through every page: %v", seen)
	}
	var one struct {
		App     gqlAppView `json:"app"`
		Webhook struct {
			ID         string `json:"id"`
			Deliveries struct {
				Nodes []struct{ ID, Status string } `json:"nodes"`
			} `json:"deliveries"`
		} `json:"webhook"`
		Webhooks      struct{ Nodes []struct{ ID string } }   `json:"webhooks"`
		Scopes        struct{ Nodes []struct{ Name string } } `json:"scopes"`
		EventTypes    struct{ Nodes []struct{ Name string } } `json:"event_types"`
		AuditEvents   struct{ Nodes []struct{ Type string } } `json:"audit_events"`
		Credentials   struct{ Nodes []struct{ ID string } }   `json:"credentials"`
		CredentialsHe struct {
			Total int `json:"total"`
		} `json:"credentials_health"`
	}
	g.ok(admin, `query($app: ID!, $hook: ID!) {
  app(id: $app) { ...AppFields webhooks { id } }
  webhook(id: $hook) { id app_id url events status deliveries(first: 10) { nodes { id event_id event_type status attempts { n status_code error } } page_info { has_next_page } } }
  webhooks(first: 10) { nodes { id url } page_info { end_cursor has_next_page } }
  scopes(first: 500) { nodes { name description requires_approval approvals_required built_in } }
  event_types { nodes { name description scope built_in } }
  audit_events(type: "app.*", first: 20) { nodes { seq id type time actor { kind id } subject data } page_info { end_cursor has_next_page } }
  credentials { nodes { id } }
  credentials_health { total counts attention { id status } }
}
`+gqlApp, map[string]any{"app": app.ID, "hook": failing.ID}, &one)
	if one.App.ID != app.ID || one.Webhook.ID != failing.ID || len(one.Webhook.Deliveries.Nodes) != 1 || len(one.Webhooks.Nodes) != 2 ||
		!strings.Contains(string(mustJSON(t, one.Scopes)), "graphql:adhoc") || !strings.Contains(string(mustJSON(t, one.EventTypes)), typ) ||
		!strings.Contains(string(mustJSON(t, one.AuditEvents)), "app.created") {
		t.Fatalf("queries: %+v", one)
	}
	// The vault's credentials and their health.
	cr := ad.call(http.MethodPost, "/v1/credentials", map[string]any{"name": uniqueName(t, "gh"), "provider": "github", "client_id": "gql-id", "client_secret": "gql-client-secret-1"})
	if cr.Status != http.StatusCreated {
		t.Fatalf("credential: %s", cr)
	}
	var cred struct{ ID string }
	cr.decode(t, &cred)
	var cq struct {
		Credential struct {
			ID     string                  `json:"id"`
			Status string                  `json:"status"`
			Health struct{ Status string } `json:"health"`
		} `json:"credential"`
		Credentials       struct{ Nodes []struct{ ID string } } `json:"credentials"`
		CredentialsHealth struct{ Total int }                   `json:"credentials_health"`
	}
	g.ok(admin, `query($id: ID!) {
  credential(id: $id) { id name provider grant_type client_id scopes status redirect_uri authorize_url collection_id base_url grants refresh_before_seconds exchangeable expires_at created_at version
    health { id name status last_refreshed_at expires_at next_refresh_at refresh_attempts consecutive_failures last_error } }
  credentials(first: 10) { nodes { id } page_info { has_next_page } }
  credentials_health { total counts }
}`, map[string]any{"id": cred.ID}, &cq)
	if cq.Credential.ID != cred.ID || cq.Credential.Health.Status != cq.Credential.Status || len(cq.Credentials.Nodes) != 1 || cq.CredentialsHealth.Total != 1 {
		t.Fatalf("credential queries: %+v", cq)
	}

	// Scope refusals: each field needs its REST twin's scope.
	narrow := ad.mint(adCreds, "graphql:adhoc").AccessToken
	wantGQLError(t, g.do(narrow, map[string]any{"query": `{ apps { nodes { id } } }`}), "insufficient_scope")
	wantGQLError(t, g.do(narrow, map[string]any{"query": `mutation { create_app(input: {name: "nope"}) { app { id } } }`}), "insufficient_scope")
	wantGQLError(t, g.do(narrow, map[string]any{"query": `{ audit_events { nodes { id } } }`}), "insufficient_scope")
	wantGQLError(t, g.do(narrow, map[string]any{"query": `{ credentials { nodes { id } } }`}), "insufficient_scope")
	wantGQLError(t, g.do(narrow, map[string]any{"query": `mutation($t: String!) { publish_event(input: {type: $t}) { id } }`, "variables": map[string]any{"t": typ}}), "insufficient_scope")
	g.ok(narrow, `{ scopes(first: 1) { nodes { name } } }`, nil, nil) // any valid token reads the catalog
	// A field refused amid granted ones: null with its error, the rest stands.
	part := g.do(ad.mint(adCreds, "graphql:adhoc", "platform:apps:read").AccessToken, map[string]any{"query": `{ apps { nodes { id webhooks { id } } } }`})
	if e := wantGQLError(t, part, "insufficient_scope"); len(e.Path) != 4 || e.Path[3] != "webhooks" || !strings.Contains(string(part.Data["apps"]), app.ID) {
		t.Fatalf("partial answer: %s", part.reply)
	}
	// Not found: the REST 404 as the code.
	wantGQLError(t, g.do(admin, map[string]any{"query": `{ app(id: "app_nope") { id } }`}), "not_found")
	wantGQLError(t, g.do(admin, map[string]any{"query": `mutation { decide_scope(app_id: "app_nope", input: {scope: "webhooks:read", decision: "approve"}) { id } }`}), "not_found")

	// Introspection: refused without graphql:introspect, answered with it.
	const intro = `{ __schema { queryType { name } types { name } } }`
	wantGQLError(t, g.do(narrow, map[string]any{"query": intro}), "insufficient_scope")
	wantGQLError(t, g.do(narrow, map[string]any{"query": `{ __type(name: "App") { name } }`}), "insufficient_scope")
	if r := ad.as(narrow).call(http.MethodGet, "/v1/graphql/schema", nil); !isProblem(r, http.StatusForbidden, "insufficient_scope") {
		t.Fatalf("schema without graphql:introspect: %s", r)
	}
	if r := g.do(ad.mint(adCreds, "graphql:adhoc", "graphql:introspect").AccessToken, map[string]any{"query": intro}); len(r.Errors) > 0 || !strings.Contains(string(r.Data["__schema"]), `"Query"`) {
		t.Fatalf("introspection with graphql:introspect: %s", r.reply)
	}

	// Approved operations.
	const listDoc = `query Apps($first: Int) { apps(first: $first) { nodes { id name scopes { scope status } } } }`
	const ops = "/v1/platform/graphql/operations"
	r := ad.call(http.MethodPost, ops, map[string]any{"name": "list apps", "document": listDoc, "apps": []string{app.ID}})
	if r.Status != http.StatusCreated || r.Header.Get("ETag") != `"1"` {
		t.Fatalf("register: %s", r)
	}
	var op struct {
		ID, SHA256 string
		Apps       []string
	}
	r.decode(t, &op)
	if op.SHA256 != sha256Hex(listDoc) || !strings.HasPrefix(op.ID, "gqlop-") {
		t.Fatalf("operation: %s", r)
	}
	byID := g.do(reader, map[string]any{"id": op.ID, "variables": map[string]any{"first": 10}})
	if len(byID.Errors) > 0 || !strings.Contains(string(byID.Data["apps"]), app.ID) {
		t.Fatalf("by id: %s", byID.reply)
	}
	byHash := g.do(reader, map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": op.SHA256}}})
	if len(byHash.Errors) > 0 || !bytes.Equal(byHash.Data["apps"], byID.Data["apps"]) {
		t.Fatalf("by hash: %s", byHash.reply)
	}
	get := g.decode(ad.as(reader).call(http.MethodGet, "/v1/graphql?id="+url.QueryEscape(op.ID)+"&variables="+url.QueryEscape(`{"first":10}`), nil))
	if len(get.Errors) > 0 || !bytes.Equal(get.Data["apps"], byID.Data["apps"]) {
		t.Fatalf("GET by id: %s", get.reply)
	}
	getHash := g.decode(ad.as(reader).call(http.MethodGet, "/v1/graphql?extensions="+url.QueryEscape(`{"persistedQuery":{"version":1,"sha256Hash":"`+op.SHA256+`"}}`), nil))
	if len(getHash.Errors) > 0 || getHash.Data["apps"] == nil {
		t.Fatalf("GET by hash: %s", getHash.reply)
	}
	// A document not approved: refused for want of graphql:adhoc.
	wantGQLError(t, g.do(reader, map[string]any{"query": `{ apps { nodes { id client_id } } }`}), "insufficient_scope")
	// The approved document sent as text is still free-form.
	wantGQLError(t, g.do(reader, map[string]any{"query": listDoc}), "insufficient_scope")
	// Approved for another app only: forbidden.
	other := ad.call(http.MethodPost, ops, map[string]any{"name": "admin only", "document": `{ scopes { nodes { name } } }`, "apps": []string{failing.AppID}})
	var otherOp struct{ ID string }
	other.decode(t, &otherOp)
	wantGQLError(t, g.do(reader, map[string]any{"id": otherOp.ID}), "forbidden")
	wantGQLError(t, g.do(reader, map[string]any{"id": "gqlop-nope"}), "not_found")
	if e := wantGQLError(t, g.do(reader, map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha256Hex("{ x }")}}}), "not_found"); e.Message != "PersistedQueryNotFound" {
		t.Fatalf("unknown hash: %+v", e)
	}
	wantGQLError(t, g.do(reader, map[string]any{"query": listDoc, "extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": sha256Hex("other")}}}), "validation_error")
	// The registry: list, read, refusals, withdraw, register again.
	if r := ad.call(http.MethodGet, ops+"?limit=1", nil); r.Status != http.StatusOK || !strings.Contains(string(r.Body), op.ID) || !strings.Contains(string(r.Body), "next_cursor") {
		t.Fatalf("list operations: %s", r)
	}
	if r := ad.call(http.MethodGet, ops+"/"+op.ID, nil); r.Status != http.StatusOK || r.Header.Get("ETag") != `"1"` {
		t.Fatalf("get operation: %s", r)
	}
	wantProblem(t, ad.call(http.MethodGet, ops+"/gqlop-nope", nil), http.StatusNotFound, "not_found")
	wantProblem(t, ad.call(http.MethodPost, ops, map[string]any{"name": "again", "document": listDoc, "apps": []string{app.ID}}), http.StatusConflict, "conflict")
	wantProblem(t, ad.call(http.MethodPost, ops, map[string]any{"name": "list apps", "document": `{ event_types { nodes { name } } }`, "apps": []string{app.ID}}), http.StatusConflict, "conflict")
	p := wantProblem(t, ad.call(http.MethodPost, ops, map[string]any{"name": "bad", "document": `{ nope }`, "apps": []string{"app_nope"}}), http.StatusBadRequest, "validation_error")
	if f := p.fields(); len(f) != 2 {
		t.Fatalf("register invalid: fields %v", f)
	}
	wantProblem(t, ad.call(http.MethodPost, ops, "{}", "Content-Type", "text/plain"), http.StatusUnsupportedMediaType, "unsupported_media_type")
	wantProblem(t, ad.call(http.MethodPost, ops, map[string]any{"name": "big", "document": strings.Repeat("#", 2<<20), "apps": []string{app.ID}}), http.StatusRequestEntityTooLarge, "payload_too_large")
	key := "Idempotency-Key"
	first2 := ad.call(http.MethodPost, ops, map[string]any{"name": "idem", "document": `{ event_types { nodes { scope } } }`, "apps": []string{app.ID}}, key, "op-1")
	if again := ad.call(http.MethodPost, ops, map[string]any{"name": "idem", "document": `{ event_types { nodes { scope } } }`, "apps": []string{app.ID}}, key, "op-1"); first2.Status != http.StatusCreated || again.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.Body, first2.Body) {
		t.Fatalf("register replay: %s / %s", first2, again)
	}
	wantProblem(t, ad.call(http.MethodPost, ops, map[string]any{"name": "idem2", "document": `{ scopes { nodes { name } } }`, "apps": []string{app.ID}}, key, "op-1"), http.StatusUnprocessableEntity, "idempotency_key_reused")
	wantProblem(t, ad.as(reader).call(http.MethodPost, ops, map[string]any{"name": "x", "document": listDoc, "apps": []string{app.ID}}), http.StatusForbidden, "insufficient_scope")
	wantProblem(t, ad.as(reader).call(http.MethodGet, ops, nil), http.StatusForbidden, "insufficient_scope")
	wantProblem(t, ad.as("").call(http.MethodGet, ops+"/"+op.ID, nil), http.StatusUnauthorized, "unauthorized")
	wantProblem(t, ad.as("").call(http.MethodGet, ops, nil), http.StatusUnauthorized, "unauthorized")
	wantProblem(t, ad.as("").call(http.MethodPost, ops, map[string]any{"name": "x", "document": listDoc, "apps": []string{app.ID}}), http.StatusUnauthorized, "unauthorized")
	wantProblem(t, ad.as("").call(http.MethodDelete, ops+"/"+op.ID, nil), http.StatusUnauthorized, "unauthorized")
	wantProblem(t, ad.call(http.MethodGet, ops+"?limit=0", nil), http.StatusBadRequest, "validation_error")
	wantProblem(t, ad.as(reader).call(http.MethodDelete, ops+"/"+op.ID, nil), http.StatusForbidden, "insufficient_scope")
	wantProblem(t, ad.as(reader).call(http.MethodGet, ops+"/"+op.ID, nil), http.StatusForbidden, "insufficient_scope")
	wantProblem(t, ad.call(http.MethodDelete, ops+"/"+op.ID, nil, "If-Match", `"7"`), http.StatusPreconditionFailed, "precondition_failed")
	if r := ad.call(http.MethodDelete, ops+"/"+op.ID, nil, "If-Match", `"1"`); r.Status != http.StatusNoContent {
		t.Fatalf("delete operation: %s", r)
	}
	wantProblem(t, ad.call(http.MethodDelete, ops+"/"+op.ID, nil), http.StatusNotFound, "not_found")
	wantGQLError(t, g.do(reader, map[string]any{"id": op.ID}), "not_found")
	if r := ad.call(http.MethodPost, ops, map[string]any{"name": "list apps", "document": listDoc, "apps": []string{app.ID}}); r.Status != http.StatusCreated {
		t.Fatalf("register again after the withdrawal: %s", r)
	}
	if r := g.do(reader, map[string]any{"id": op.ID}); len(r.Errors) > 0 {
		t.Fatalf("by id after registering again: %s", r.reply)
	}

	// Depth (GATEHOUSE_GRAPHQL_MAX_DEPTH=6) and cost.
	deep := `{ apps { nodes { webhooks { deliveries { nodes { attempts { n } } } } } } }`
	if e := wantGQLError(t, g.do(admin, map[string]any{"query": deep}), "validation_error"); !strings.Contains(e.Message, "7 levels deep; the limit is 6") {
		t.Fatalf("depth: %+v", e)
	}
	g.ok(admin, `{ webhooks { nodes { deliveries { nodes { attempts { n } } } } } }`, nil, nil)
	costly := `{ apps(first: 500) { nodes { id webhooks { id deliveries(first: 500) { nodes { id } } } } } }`
	if e := wantGQLError(t, g.do(admin, map[string]any{"query": costly}), "validation_error"); !strings.Contains(e.Message, "the limit is 50000") {
		t.Fatalf("cost: %+v", e)
	}

	// The HTTP request itself.
	if r := ad.call(http.MethodGet, "/v1/graphql?query="+url.QueryEscape(`mutation { publish_event(input: {type: "x.y"}) { id } }`), nil); !isProblem(r, http.StatusMethodNotAllowed, "method_not_allowed") || r.Header.Get("Allow") != "POST" {
		t.Fatalf("GET mutation: %s", r)
	}
	wantProblem(t, ad.call(http.MethodGet, "/v1/graphql?query=%7B%20scopes%20%7B%20nodes%20%7B%20name%20%7D%20%7D%20%7D&variables=nope", nil), http.StatusBadRequest, "validation_error")
	wantProblem(t, ad.as("").call(http.MethodGet, "/v1/graphql?query=%7B%7D", nil), http.StatusUnauthorized, "unauthorized")
	wantProblem(t, ad.as("").call(http.MethodGet, "/v1/graphql/schema", nil), http.StatusUnauthorized, "unauthorized")
	wantProblem(t, ad.as("").call(http.MethodPost, "/v1/graphql", map[string]any{"query": "{}"}), http.StatusUnauthorized, "unauthorized")
	wantProblem(t, ad.call(http.MethodPost, "/v1/graphql", `{"query": "{ scopes { nodes { name } } }", "nope": 1}`), http.StatusBadRequest, "validation_error")
	wantProblem(t, ad.call(http.MethodPost, "/v1/graphql", map[string]any{"variables": map[string]any{}}), http.StatusBadRequest, "validation_error")
	wantProblem(t, ad.call(http.MethodPost, "/v1/graphql", "{}", "Content-Type", "text/plain"), http.StatusUnsupportedMediaType, "unsupported_media_type")
	wantProblem(t, ad.call(http.MethodPost, "/v1/graphql", map[string]any{"query": "#" + strings.Repeat(" ", 2<<20)}), http.StatusRequestEntityTooLarge, "payload_too_large")
	wantGQLError(t, g.decode(ad.call(http.MethodPost, "/v1/graphql", map[string]any{"query": "{ nope }"})), "validation_error")
	// An Idempotency-Key on the POST: the whole GraphQL request replays.
	body := map[string]any{"query": `mutation($n: String!) { create_app(input: {name: $n}) { app { id } client_secret } }`, "variables": map[string]any{"n": uniqueName(t, "hdr")}}
	h1 := g.do(admin, body, key, "gql-hdr-1")
	h2 := g.do(admin, body, key, "gql-hdr-1")
	if len(h1.Errors) > 0 || h2.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(h1.Body, h2.Body) {
		t.Fatalf("header replay: %s / %s", h1.reply, h2.reply)
	}
	body["variables"] = map[string]any{"n": uniqueName(t, "hdr2")}
	wantProblem(t, g.a.as(admin).call(http.MethodPost, "/v1/graphql", body, key, "gql-hdr-1"), http.StatusUnprocessableEntity, "idempotency_key_reused")
}

// waitDelivery waits until webhook has a delivery in status, and returns
// its id.
func waitDelivery(t *testing.T, a *api, webhook, status string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if ds := a.deliveries(webhook, status); len(ds) > 0 {
			return ds[0].ID
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s delivery of %s within 30 s", status, webhook)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
