package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// gqlAnswer is a GraphQL response.
type gqlAnswer struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func gql(t *testing.T, s *servertest.Server, token string, body map[string]any, headers ...string) (servertest.Response, gqlAnswer) {
	t.Helper()
	r := s.Do(http.MethodPost, "/v1/graphql", token, body, headers...)
	var a gqlAnswer
	if r.Status == http.StatusOK {
		r.JSON(t, &a)
	}
	return r, a
}

func wantCode(t *testing.T, a gqlAnswer, code string) {
	t.Helper()
	if len(a.Errors) == 0 {
		t.Fatalf("no error, want %s: %v", code, a.Data)
	}
	if got := a.Errors[0].Extensions["code"]; got != code {
		t.Fatalf("error code %v (%s), want %s", got, a.Errors[0].Message, code)
	}
}

// TestGraphQLTransport drives the GraphQL endpoint in process: a
// free-form query through the REST twins, scope and tenant refusals with
// the REST codes, introspection, approved operations by id and hash,
// GET, limits, idempotent mutations.
func TestGraphQLTransport(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	var created struct {
		ID     string `json:"id"`
		Secret string `json:"client_secret"`
	}
	r := s.Do(http.MethodPost, "/v1/platform/apps", admin, map[string]any{"name": "reader", "requested_scopes": []string{"platform:apps:read"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create app: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &created)
	var cid struct {
		ClientID string `json:"client_id"`
	}
	r.JSON(t, &cid)
	if r := s.Do(http.MethodPost, "/v1/platform/apps/"+created.ID+"/scope-decisions", admin, map[string]any{"scope": "platform:apps:read", "decision": "approve"}); r.Status != http.StatusOK {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	reader := s.TokenFor(cid.ClientID, created.Secret)

	const listApps = `query ListApps($first: Int) { apps(first: $first) { nodes { id name scopes { scope status } webhooks { id url } } page_info { end_cursor has_next_page } } }`
	r, a := gql(t, s, admin, map[string]any{"query": listApps, "variables": map[string]any{"first": 10}})
	if r.Status != http.StatusOK || len(a.Errors) > 0 || !strings.Contains(string(a.Data["apps"]), `"reader"`) {
		t.Fatalf("admin ad hoc: %d %s", r.Status, r.Body)
	}
	// The reader holds no graphql:adhoc.
	_, a = gql(t, s, reader, map[string]any{"query": listApps})
	wantCode(t, a, "insufficient_scope")
	// Introspection.
	_, a = gql(t, s, admin, map[string]any{"query": `{ __schema { queryType { name } } }`})
	if len(a.Errors) > 0 {
		t.Fatalf("introspection with the scope: %v", a.Errors)
	}
	// Approve the document for the reader, run it by id and by hash.
	r = s.Do(http.MethodPost, "/v1/platform/graphql/operations", admin, map[string]any{"name": "list apps", "document": listApps, "apps": []string{created.ID}})
	if r.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	var op struct{ ID, SHA256 string }
	r.JSON(t, &op)
	// The reader has no webhooks:read: App.webhooks is refused as GET
	// /v1/webhooks refuses it, the rest of the answer stands.
	r, a = gql(t, s, reader, map[string]any{"id": op.ID, "variables": map[string]any{"first": 5}})
	if !strings.Contains(string(a.Data["apps"]), `"reader"`) {
		t.Fatalf("by id: %s", r.Body)
	}
	wantCode(t, a, "insufficient_scope")
	if p := a.Errors[0].Path; len(p) != 4 || p[3] != "webhooks" {
		t.Fatalf("error path %v", p)
	}
	_, a = gql(t, s, reader, map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": op.SHA256}}})
	if a.Data["apps"] == nil {
		t.Fatalf("by hash: %v", a.Errors)
	}
	g := s.Do(http.MethodGet, "/v1/graphql?id="+url.QueryEscape(op.ID), reader, nil)
	if g.Status != http.StatusOK {
		t.Fatalf("GET: %d %s", g.Status, g.Body)
	}
	g = s.Do(http.MethodGet, "/v1/graphql?query="+url.QueryEscape(`mutation { publish_event(input: {type: "x.y"}) { id } }`), admin, nil)
	if g.Status != http.StatusMethodNotAllowed {
		t.Fatalf("GET mutation: %d %s", g.Status, g.Body)
	}
	// Ids that name nothing, or try to name another route: not found.
	for _, id := range []string{"app-nope", "", "x/scope-requests", "../../webhooks", "x?limit=1"} {
		_, a = gql(t, s, admin, map[string]any{"query": `query($id: ID!) { app(id: $id) { id } }`, "variables": map[string]any{"id": id}})
		wantCode(t, a, "not_found")
	}
	const create = `mutation($in: AppCreateInput!, $k: String) { create_app(input: $in, idempotency_key: $k) { app { id name } client_secret } }`
	vars := map[string]any{"in": map[string]any{"name": "via-graphql"}, "k": "k1"}
	r1, a1 := gql(t, s, admin, map[string]any{"query": create, "variables": vars})
	r2, _ := gql(t, s, admin, map[string]any{"query": create, "variables": vars})
	if len(a1.Errors) > 0 || string(r1.Body) != string(r2.Body) {
		t.Fatalf("replay:\n%s\n%s", r1.Body, r2.Body)
	}
	_, a = gql(t, s, admin, map[string]any{"query": create, "variables": map[string]any{"in": map[string]any{"name": "via-graphql"}}})
	wantCode(t, a, "conflict")
}

// TestGraphQLAppsAreTheRESTList: GraphQL's apps connection is answered
// from the function GET /v1/platform/apps calls (authz.Reads), mapped
// into the models without JSON; every member of every app must be what
// the REST list answers (GraphQL's nulls are REST's omitted members),
// and a bad page size is the same validation_error.
func TestGraphQLAppsAreTheRESTList(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	r := s.Do(http.MethodPost, "/v1/platform/apps", admin, map[string]any{"name": "mapped", "grant_types": []string{"client_credentials"},
		"requested_scopes": []string{"platform:apps:read", "webhooks:read"}, "metadata": map[string]any{"team": "x", "n": 2},
		"id_token_signed_response_alg": "ES256"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create app: %d %s", r.Status, r.Body)
	}
	var app struct {
		ID string `json:"id"`
	}
	r.JSON(t, &app)
	for _, d := range []map[string]any{{"scope": "platform:apps:read", "decision": "approve"}, {"scope": "webhooks:read", "decision": "reject", "reason": "not yet"}} {
		if r := s.Do(http.MethodPost, "/v1/platform/apps/"+app.ID+"/scope-decisions", admin, d); r.Status != http.StatusOK {
			t.Fatalf("decide %v: %d %s", d, r.Status, r.Body)
		}
	}
	if r := s.Do(http.MethodPost, "/v1/platform/apps/"+app.ID+"/secrets", admin, map[string]any{"grace_period_seconds": 60}); r.Status != http.StatusCreated {
		t.Fatalf("rotate: %d %s", r.Status, r.Body)
	}
	var rest struct {
		Items []map[string]any `json:"items"`
	}
	r = s.Do(http.MethodGet, "/v1/platform/apps?limit=500", admin, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("REST list: %d %s", r.Status, r.Body)
	}
	r.JSON(t, &rest)
	const all = `{ apps(first: 500) { nodes { id client_id name grant_types redirect_uris token_endpoint_auth_method jwks active
		access_token_ttl_seconds id_token_signed_response_alg metadata created_at updated_at created_by version
		scopes { scope status decided_by decided_at reason approvals }
		grants { grant_type status decided_by decided_at reason approvals }
		redirect_uri_approvals { redirect_uri status decided_by decided_at reason approvals }
		secrets { id created_at expires_at } } } }`
	_, a := gql(t, s, admin, map[string]any{"query": all})
	if len(a.Errors) > 0 {
		t.Fatalf("GraphQL apps: %v", a.Errors)
	}
	var conn struct {
		Nodes []map[string]any `json:"nodes"`
	}
	if err := json.Unmarshal(a.Data["apps"], &conn); err != nil {
		t.Fatal(err)
	}
	if len(conn.Nodes) != len(rest.Items) || len(rest.Items) < 2 {
		t.Fatalf("GraphQL %d apps, REST %d", len(conn.Nodes), len(rest.Items))
	}
	found := false
	for i := range rest.Items {
		got, want := withoutNulls(conn.Nodes[i]), withoutNulls(rest.Items[i])
		if !reflect.DeepEqual(got, want) {
			t.Errorf("app %d:\nGraphQL %v\nREST    %v", i, got, want)
		}
		found = found || rest.Items[i]["id"] == app.ID
	}
	if !found {
		t.Fatalf("the app made is not in the list")
	}
	// The same refusal of a bad page size.
	_, a = gql(t, s, admin, map[string]any{"query": `{ apps(first: 501) { nodes { id } } }`})
	wantCode(t, a, "validation_error")
	if r := s.Do(http.MethodGet, "/v1/platform/apps?limit=501", admin, nil); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"field":"limit"`) {
		t.Fatalf("REST limit=501: %d %s", r.Status, r.Body)
	}
	// GraphQL names its own argument (first), not the REST parameter.
	if errs, _ := a.Errors[0].Extensions["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["field"] != "first" {
		t.Fatalf("GraphQL limit error: %v", a.Errors[0].Extensions)
	}
}

// withoutNulls drops the members whose value is null, at every depth:
// GraphQL answers a nullable member it has no value for as null, REST
// omits most of them (and sends a few, expires_at, as null).
func withoutNulls(v map[string]any) map[string]any {
	out := map[string]any{}
	for k, x := range v {
		switch x := x.(type) {
		case nil:
		case map[string]any:
			out[k] = withoutNulls(x)
		case []any:
			l := make([]any, len(x))
			for i, e := range x {
				if m, ok := e.(map[string]any); ok {
					l[i] = withoutNulls(m)
				} else {
					l[i] = e
				}
			}
			out[k] = l
		default:
			out[k] = x
		}
	}
	return out
}
