package graphql_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/server/servertest"
)

func TestMain(m *testing.M) { servertest.Main(m) }

// TestGraphQLListErrorPaths: the apps list is marshalled in line
// (graphql/gen), and a field's error still names its element: every
// app's webhooks refused to a token without webhooks:read is one error
// at apps.nodes[i].webhooks, i each app's index, the rest of the answer
// standing.
func TestGraphQLListErrorPaths(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	for i := range 3 {
		if r := s.Do(http.MethodPost, "/v1/platform/apps", admin, map[string]any{"name": fmt.Sprint("paths ", i)}); r.Status != http.StatusCreated {
			t.Fatalf("create app: %d %s", r.Status, r.Body)
		}
	}
	tok := s.Token("platform:apps:read", "graphql:adhoc")
	r := s.Do(http.MethodPost, "/v1/graphql", tok, map[string]any{"query": `{ apps(first: 500) { nodes { id name webhooks { id } } } }`})
	var a struct {
		Data struct {
			Apps struct {
				Nodes []struct {
					ID       string
					Name     string
					Webhooks []any
				}
			}
		}
		Errors []struct {
			Path       []any
			Extensions map[string]any
		}
	}
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	r.JSON(t, &a)
	nodes := a.Data.Apps.Nodes
	if len(nodes) < 4 || len(a.Errors) != len(nodes) {
		t.Fatalf("%d apps, %d errors: %s", len(nodes), len(a.Errors), r.Body)
	}
	seen := map[string]bool{}
	for _, e := range a.Errors {
		p, _ := json.Marshal(e.Path)
		seen[string(p)] = true
		if e.Extensions["code"] != "insufficient_scope" {
			t.Errorf("error at %s: %v", p, e.Extensions)
		}
	}
	for i, n := range nodes {
		if n.ID == "" || n.Name == "" || n.Webhooks != nil {
			t.Errorf("app %d: %+v", i, n)
		}
		if p := fmt.Sprintf(`["apps","nodes",%d,"webhooks"]`, i); !seen[p] {
			t.Errorf("no error at %s: %s", p, r.Body)
		}
	}
}

// TestGraphQLDocumentTokenLimit: a document is read within
// graphql.MaxTokens before it is validated, at the endpoint and at an
// operation's registration. gqlparser's validation compares the fields of
// one response name pairwise: 3,000 __typename (33 KB) took seconds of
// CPU, and a 1 MiB body of them about an hour.
func TestGraphQLDocumentTokenLimit(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	doc := "{" + strings.Repeat("__typename ", 3000) + "}"
	r := s.Do(http.MethodPost, "/v1/graphql", admin, map[string]any{"query": doc})
	var a struct {
		Data   any
		Errors []struct {
			Message    string
			Extensions map[string]any
		}
	}
	if r.Status != http.StatusOK {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	r.JSON(t, &a)
	if a.Data != nil || len(a.Errors) != 1 || a.Errors[0].Extensions["code"] != "validation_error" ||
		!strings.Contains(a.Errors[0].Message, "token limit") {
		t.Fatalf("a document past the token limit: %.300s", r.Body)
	}
	small := "{" + strings.Repeat("__typename ", 100) + "}"
	if r := s.Do(http.MethodPost, "/v1/graphql", admin, map[string]any{"query": small}); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"data":{"__typename":"Query"}`) {
		t.Fatalf("a document within the limit: %d %.300s", r.Status, r.Body)
	}
	r = s.Do(http.MethodPost, "/v1/platform/graphql/operations", admin, map[string]any{"name": "too long", "document": doc, "apps": []string{}})
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "token limit") {
		t.Fatalf("registering a document past the token limit: %d %.300s", r.Status, r.Body)
	}
}

// TestGraphQLIdempotencyKeyReleasedOnRetryableError: an Idempotency-Key
// on the POST holds the key to the GraphQL answer, which is a 200 even
// when a field failed with an error that asks for the same request again
// (rate_limited, internal, unavailable: a REST answer the key is
// released for). Such an answer is not the request's outcome: the key is
// released as REST releases it, and the client's retry with the key runs
// the mutation instead of replaying the failure for the key's 24 h.
func TestGraphQLIdempotencyKeyReleasedOnRetryableError(t *testing.T) {
	s := servertest.New(t, servertest.Env("RATE_PLATFORM", "2"))
	admin := s.Token()
	body := map[string]any{"query": `mutation { create_app(input: {name: "retried"}) { app { id name } } }`}
	// A read and the POST spend the caller's two requests of this
	// second; the POST's create_app, the REST POST in process, is
	// refused 429.
	if r := s.Do(http.MethodGet, "/v1/platform/scopes", admin, nil); r.Status != http.StatusOK {
		t.Fatalf("read: %d %s", r.Status, r.Body)
	}
	r := s.Do(http.MethodPost, "/v1/graphql", admin, body, "Idempotency-Key", "gql-retry-1")
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"code":"rate_limited"`) {
		t.Fatalf("first: %d %s", r.Status, r.Body)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		r = s.Do(http.MethodPost, "/v1/graphql", admin, body, "Idempotency-Key", "gql-retry-1")
		if r.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("the rate-limited answer was replayed: %d %s", r.Status, r.Body)
		}
		if strings.Contains(string(r.Body), `"name":"retried"`) {
			break
		}
		if r.Status != http.StatusTooManyRequests && !strings.Contains(string(r.Body), `"code":"rate_limited"`) {
			t.Fatalf("retry: %d %s", r.Status, r.Body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no app created by 15 s of retries: %d %s", r.Status, r.Body)
		}
		time.Sleep(1100 * time.Millisecond) // the client's pace: a second refills the budget of two
	}
	// The outcome is held: a repeat replays it.
	again := s.Do(http.MethodPost, "/v1/graphql", admin, body, "Idempotency-Key", "gql-retry-1")
	for again.Status == http.StatusTooManyRequests && time.Now().Before(deadline) {
		time.Sleep(1100 * time.Millisecond)
		again = s.Do(http.MethodPost, "/v1/graphql", admin, body, "Idempotency-Key", "gql-retry-1")
	}
	if again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(r.Body) {
		t.Fatalf("repeat of the outcome: %d %v %s", again.Status, again.Header, again.Body)
	}
}

// TestGraphQLInt64ArgumentError: an Int64 argument (audit_events' after)
// that is no integer, given in the document or as a variable, is a
// validation_error that says so, with its path: gqlgen's coercion error
// was Go's text ("strconv.ParseInt: parsing ...: invalid syntax", "bool
// is not an int64").
func TestGraphQLInt64ArgumentError(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	for _, body := range []map[string]any{
		{"query": `{ audit_events(after: "abc") { nodes { id } } }`},
		{"query": `query($a: Int64) { audit_events(after: $a) { nodes { id } } }`, "variables": map[string]any{"a": "abc"}},
		{"query": `{ audit_events(after: "99999999999999999999") { nodes { id } } }`},
		{"query": `{ audit_events(after: true) { nodes { id } } }`},
	} {
		r := s.Do(http.MethodPost, "/v1/graphql", admin, body)
		var a struct {
			Errors []struct {
				Message    string
				Path       []any
				Extensions map[string]any
			}
		}
		if r.Status != http.StatusOK {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		r.JSON(t, &a)
		if len(a.Errors) != 1 || a.Errors[0].Extensions["code"] != "validation_error" || strings.Contains(a.Errors[0].Message, "strconv") ||
			!strings.Contains(a.Errors[0].Message, "64-bit integer") || fmt.Sprint(a.Errors[0].Path) != "[audit_events after]" {
			t.Errorf("%v: %s", body, r.Body)
		}
	}
}

// TestGraphQLAuditActorIsTheREST: an audit event's actor through GraphQL
// is the REST feed's, its chain included: via (the token's jti), and
// on_behalf_of and app where the event has them. The schema's Actor had
// kind and id only, so the token behind an action was not in the
// GraphQL feed.
func TestGraphQLAuditActorIsTheREST(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	if r := s.Do(http.MethodPost, "/v1/platform/apps", admin, map[string]any{"name": "acted"}); r.Status != http.StatusCreated {
		t.Fatalf("create app: %d %s", r.Status, r.Body)
	}
	r := s.Do(http.MethodGet, "/v1/platform/events?type=app.*&limit=50", admin, nil)
	var rest struct {
		Items []struct {
			ID    string
			Actor map[string]any
		}
	}
	r.JSON(t, &rest)
	q := `{ audit_events(type: "app.*", first: 50) { nodes { id actor { kind id via app on_behalf_of { kind id via app on_behalf_of { kind id } } } } } }`
	r = s.Do(http.MethodPost, "/v1/graphql", admin, map[string]any{"query": q})
	var gql struct {
		Data struct {
			AuditEvents struct {
				Nodes []struct {
					ID    string
					Actor map[string]any
				}
			} `json:"audit_events"`
		}
		Errors []any
	}
	r.JSON(t, &gql)
	nodes := gql.Data.AuditEvents.Nodes
	if len(gql.Errors) > 0 || len(nodes) != len(rest.Items) || len(nodes) < 2 {
		t.Fatalf("%d REST items, GraphQL: %s", len(rest.Items), r.Body)
	}
	var noNulls func(m map[string]any) map[string]any
	noNulls = func(m map[string]any) map[string]any {
		for k, v := range m {
			switch v := v.(type) {
			case nil:
				delete(m, k)
			case map[string]any:
				noNulls(v)
			}
		}
		return m
	}
	vias := 0
	for i, n := range nodes {
		want, _ := json.Marshal(rest.Items[i].Actor)
		got, _ := json.Marshal(noNulls(n.Actor))
		if n.ID != rest.Items[i].ID || string(got) != string(want) {
			t.Errorf("event %s: actor %s, REST %s", n.ID, got, want)
		}
		if rest.Items[i].Actor["via"] != nil {
			vias++
		}
	}
	if vias == 0 {
		t.Fatalf("no event with a via: %v", rest.Items)
	}
}

// TestGraphQLOverHTTPAnswers: the answer's media type, status and data
// entry as GraphQL over HTTP has them, for each Accept. A request error
// (the operation did not run: a document that does not parse or
// validate, the policy's refusal, an unknown approved operation) has no
// data entry; it is a 200 in application/json (the legacy rule, what
// clients without an Accept, with */* or application/json get) and its
// code's status in application/graphql-response+json (400 for parse and
// validation). An operation that ran is a 200 with data in both, a
// field's error beside it. Before, every answer was application/json,
// 200, with "data": null for request errors.
func TestGraphQLOverHTTPAnswers(t *testing.T) {
	s := servertest.New(t)
	tok := s.Token("platform:apps:read", "graphql:adhoc")
	const gqlResponse = "application/graphql-response+json"
	type answer struct {
		status int
		data   bool
		code   string
	}
	cases := []struct {
		name, query, id string
		legacy, gql     answer
	}{
		{name: "parse error", query: `{ apps {`, legacy: answer{200, false, "validation_error"}, gql: answer{400, false, "validation_error"}},
		{name: "validation error", query: `{ nope }`, legacy: answer{200, false, "validation_error"}, gql: answer{400, false, "validation_error"}},
		{name: "variable not coerced", query: `query($n: Int) { apps(first: $n) { nodes { id } } }`,
			legacy: answer{200, false, "validation_error"}, gql: answer{400, false, "validation_error"}},
		{name: "several operations, none named", query: `query A { __typename } query B { __typename }`,
			legacy: answer{200, false, "validation_error"}, gql: answer{400, false, "validation_error"}},
		{name: "introspection refused", query: `{ __schema { types { name } } }`, legacy: answer{200, false, "insufficient_scope"}, gql: answer{403, false, "insufficient_scope"}},
		{name: "unknown operation", id: "gqlop-nothing", legacy: answer{200, false, "not_found"}, gql: answer{404, false, "not_found"}},
		{name: "field error", query: `{ webhooks { nodes { id } } }`, legacy: answer{200, true, "insufficient_scope"}, gql: answer{200, true, "insufficient_scope"}},
		{name: "success", query: `{ __typename }`, legacy: answer{200, true, ""}, gql: answer{200, true, ""}},
	}
	accepts := []struct {
		accept, want string
	}{
		{"", "application/json"},
		{"application/json", "application/json"},
		{"*/*", "application/json"},
		{"text/html", "application/json"}, // nothing the transport writes: the spec's fallback
		{"application/json, application/graphql-response+json;q=0.5", "application/json"},
		{gqlResponse, gqlResponse},
		{gqlResponse + ", application/json;q=0.9", gqlResponse},
		{gqlResponse + "; charset=utf-8, */*;q=0.1", gqlResponse},
	}
	for _, c := range cases {
		body := map[string]any{"query": c.query}
		if c.id != "" {
			body = map[string]any{"id": c.id}
		}
		if c.name == "variable not coerced" {
			body["variables"] = map[string]any{"n": "many"}
		}
		for _, a := range accepts {
			var headers []string
			if a.accept != "" {
				headers = []string{"Accept", a.accept}
			}
			r := s.Do(http.MethodPost, "/v1/graphql", tok, body, headers...)
			want := c.legacy
			if a.want == gqlResponse {
				want = c.gql
			}
			var got map[string]json.RawMessage
			r.JSON(t, &got)
			_, hasData := got["data"]
			var errs []struct{ Extensions map[string]any }
			if raw, ok := got["errors"]; ok {
				_ = json.Unmarshal(raw, &errs)
			}
			code := ""
			if len(errs) > 0 {
				code, _ = errs[0].Extensions["code"].(string)
			}
			ct := r.Header.Get("Content-Type")
			if r.Status != want.status || hasData != want.data || code != want.code || !strings.HasPrefix(ct, a.want) ||
				r.Header.Get("Vary") != "Accept" {
				t.Errorf("%s, Accept %q: %d %s (Vary %q) %s; want %d %s, data %v, code %q",
					c.name, a.accept, r.Status, ct, r.Header.Get("Vary"), r.Body, want.status, a.want, want.data, want.code)
			}
		}
	}
	// GET: the same rules.
	r := s.Do(http.MethodGet, "/v1/graphql?query="+url.QueryEscape(`{ nope }`), tok, nil, "Accept", gqlResponse)
	if r.Status != http.StatusBadRequest || !strings.HasPrefix(r.Header.Get("Content-Type"), gqlResponse) || strings.Contains(string(r.Body), `"data"`) {
		t.Errorf("GET, a validation error: %d %s %s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
	// Several operations and no operationName: the message says what is
	// missing (gqlgen's was "operation  not found", an empty name).
	r = s.Do(http.MethodPost, "/v1/graphql", tok, map[string]any{"query": `query A { __typename } query B { __typename }`})
	if want := `{"errors":[{"message":"the document holds 2 operations: name the one to run in operationName","extensions":{"code":"validation_error"}}]}`; strings.TrimSpace(string(r.Body)) != want {
		t.Errorf("several operations, none named: %s, want %s", r.Body, want)
	}
}

// TestGraphQLAppWebhooksPaged: App.webhooks is bounded like a list's
// page: at most first (1-500, default 50) of the app's webhooks, oldest
// first, a first out of range the lists' validation_error (the app
// standing), and counted first times in the cost, where it was 10 times
// whatever it answered (500 apps' webhooks with 4 fields each cost
// 21,000, within the limit, for an answer of up to 25,000 webhooks at
// the default quota).
func TestGraphQLAppWebhooksPaged(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(rcv.Close)
	var ids []string
	var appID string
	for i := range 3 {
		r := s.Do(http.MethodPost, "/v1/webhooks", admin, map[string]any{"url": fmt.Sprintf("%s/%d", rcv.URL, i), "events": []string{"credential.revoked"}})
		var h struct {
			ID    string
			AppID string `json:"app_id"`
		}
		if r.Status != http.StatusCreated {
			t.Fatalf("create webhook: %d %s", r.Status, r.Body)
		}
		r.JSON(t, &h)
		ids, appID = append(ids, h.ID), h.AppID
	}
	tok := s.Token("platform:apps:read", "webhooks:read", "graphql:adhoc")
	q := `query($id: ID!, $n: Int) { app(id: $id) { id webhooks(first: $n) { id } } }`
	for _, c := range []struct {
		first any
		want  []string
		code  string
	}{
		{nil, ids, ""},
		{2, ids[:2], ""},
		{500, ids, ""},
		{0, nil, "validation_error"},
		{501, nil, "validation_error"},
	} {
		r := s.Do(http.MethodPost, "/v1/graphql", tok, map[string]any{"query": q, "variables": map[string]any{"id": appID, "n": c.first}})
		var a struct {
			Data struct {
				App *struct {
					ID       string
					Webhooks []struct{ ID string }
				}
			}
			Errors []struct {
				Path       []any
				Extensions map[string]any
			}
		}
		r.JSON(t, &a)
		var got []string
		if a.Data.App != nil {
			for _, h := range a.Data.App.Webhooks {
				got = append(got, h.ID)
			}
		}
		code := ""
		if len(a.Errors) > 0 {
			code, _ = a.Errors[0].Extensions["code"].(string)
		}
		if r.Status != http.StatusOK || a.Data.App == nil || a.Data.App.ID != appID || fmt.Sprint(got) != fmt.Sprint(c.want) || code != c.code {
			t.Errorf("first %v: %d %s; want webhooks %v, code %q", c.first, r.Status, r.Body, c.want, c.code)
		}
	}
	costly := `{ apps(first: 500) { nodes { id webhooks { id url events status } } } }`
	r := s.Do(http.MethodPost, "/v1/graphql", tok, map[string]any{"query": costly})
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), "the operation costs 101000") {
		t.Errorf("500 apps' webhooks of 4 fields: %d %s", r.Status, r.Body)
	}
	cheap := `{ apps(first: 500) { nodes { id webhooks(first: 5) { id url events status } } } }`
	if r := s.Do(http.MethodPost, "/v1/graphql", tok, map[string]any{"query": cheap}); r.Status != http.StatusOK || strings.Contains(string(r.Body), `"errors"`) {
		t.Errorf("500 apps' first 5 webhooks: %d %.300s", r.Status, r.Body)
	}
}

// TestGraphQLIDNamingAStaticRoute: an id is one path segment of the
// inner request, and the REST routes beside /v1/credentials/{id} that
// are names of their own (health, encryption-key, callback) took the ids
// that spell them: credential(id: "health") answered a credential with
// every field empty (the health summary decoded as one), and
// credential(id: "callback") an internal error. Each is not_found, as an
// id that names nothing, and a real credential's id still reads it.
func TestGraphQLIDNamingAStaticRoute(t *testing.T) {
	s := servertest.New(t)
	tok := s.Token("credentials:read", "platform:apps:read", "webhooks:read", "graphql:adhoc")
	for _, id := range []string{"health", "encryption-key", "callback"} {
		r := s.Do(http.MethodPost, "/v1/graphql", tok, map[string]any{
			"query": `query($id: ID!) { credential(id: $id) { id name } }`, "variables": map[string]any{"id": id}})
		var a struct {
			Data struct {
				Credential *struct{ ID string }
			}
			Errors []struct {
				Message    string
				Path       []any
				Extensions map[string]any
			}
		}
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", id, r.Status, r.Body)
		}
		r.JSON(t, &a)
		if a.Data.Credential != nil || len(a.Errors) != 1 || a.Errors[0].Extensions["code"] != "not_found" {
			t.Errorf("credential(id: %q): %s", id, r.Body)
		}
	}
	app := s.Do(http.MethodPost, "/v1/platform/apps", s.Token(), map[string]any{"name": "routed"})
	var created struct{ ID string }
	app.JSON(t, &created)
	r := s.Do(http.MethodPost, "/v1/graphql", tok, map[string]any{
		"query": `query($id: ID!) { app(id: $id) { id name } }`, "variables": map[string]any{"id": created.ID}})
	if want := fmt.Sprintf(`{"data":{"app":{"id":%q,"name":"routed"}}}`, created.ID); strings.TrimSpace(string(r.Body)) != want {
		t.Errorf("app(id: %q): %s", created.ID, r.Body)
	}
}

// TestGraphQLPageArgumentErrors: a list's field errors name its
// arguments, first and after, not the REST query parameters the bridge
// sends them as (limit, cursor).
func TestGraphQLPageArgumentErrors(t *testing.T) {
	s := servertest.New(t)
	tok := s.Token("platform:apps:read", "webhooks:read", "credentials:read", "platform:audit:read", "graphql:adhoc")
	for query, want := range map[string]string{
		`{ apps(first: 0) { nodes { id } } }`:                "first",
		`{ apps(after: "garbage") { nodes { id } } }`:        "after",
		`{ apps { nodes { webhooks(first: 0) { id } } } }`:   "first",
		`{ webhooks(first: 501) { nodes { id } } }`:          "first",
		`{ credentials(first: 0) { nodes { id } } }`:         "first",
		`{ credentials(after: "garbage") { nodes { id } } }`: "after",
		`{ scopes(first: 0) { nodes { name } } }`:            "first",
		`{ audit_events(first: 0) { nodes { type } } }`:      "first",
	} {
		r := s.Do(http.MethodPost, "/v1/graphql", tok, map[string]any{"query": query})
		var a struct {
			Errors []struct {
				Extensions struct {
					Code   string
					Errors []struct{ Field string }
				}
			}
		}
		r.JSON(t, &a)
		if len(a.Errors) == 0 || a.Errors[0].Extensions.Code != "validation_error" || len(a.Errors[0].Extensions.Errors) != 1 ||
			a.Errors[0].Extensions.Errors[0].Field != want {
			t.Errorf("%s: %s, want a field error of %s", query, r.Body, want)
		}
	}
}

// TestGraphQLMalformedRequestErrors: a request the transport cannot run
// says why in the caller's terms. A variable's JSON number that is no Int
// (1.5, 1e100) was "cannot use value 0 as Int", a value never sent (the
// failed conversion's zero); a persisted-query hash that is no SHA-256,
// with no query, was gqlgen's "no operation provided"; extensions that
// are no JSON object (an array, a string) were taken for none.
func TestGraphQLMalformedRequestErrors(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	type answer struct {
		Data   any
		Errors []struct {
			Message    string
			Path       []any
			Extensions map[string]any
		}
	}
	send := func(body string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/v1/graphql", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+admin)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, b
	}
	post := func(body string) answer {
		t.Helper()
		status, b := send(body)
		var a answer
		if status != http.StatusOK || json.Unmarshal(b, &a) != nil {
			t.Fatalf("%s: %d", body, status)
		}
		return a
	}
	for _, v := range []string{"1.5", "1e100"} {
		a := post(`{"query": "query($f: Int) { scopes(first: $f) { nodes { name } } }", "variables": {"f": ` + v + `}}`)
		if a.Data != nil || len(a.Errors) != 1 || a.Errors[0].Extensions["code"] != "validation_error" ||
			a.Errors[0].Message != "must be an Int: a whole number within 64 bits" || fmt.Sprint(a.Errors[0].Path) != "[variable f]" {
			t.Errorf("first %s: %+v", v, a)
		}
	}
	// extensions that are no object were taken for none, the rest of
	// the request run.
	for _, ext := range []string{`[1]`, `"x"`, `7`} {
		status, b := send(`{"query": "{ __typename }", "extensions": ` + ext + `}`)
		if status != http.StatusBadRequest || !strings.Contains(string(b), `"field":"extensions"`) {
			t.Errorf("extensions %s: %d %s", ext, status, b)
		}
	}
	if a := post(`{"query": "{ __typename }", "extensions": null}`); len(a.Errors) > 0 {
		t.Errorf("extensions null: %+v", a)
	}
	a := post(`{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "abc"}}}`)
	if a.Data != nil || len(a.Errors) != 1 || a.Errors[0].Extensions["code"] != "validation_error" ||
		!strings.Contains(a.Errors[0].Message, "sha256Hash") {
		t.Errorf("a hash that is no SHA-256: %+v", a)
	}
}

// TestGraphQLIDAndQueryNameOneDocument: an approved operation's id is the
// hash of its document. A request naming an id and a query (or a
// sha256Hash) of another document ran the id's operation and ignored the
// query without a word; it is refused, and nothing runs. The id beside
// its own document runs.
func TestGraphQLIDAndQueryNameOneDocument(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	var apps struct {
		Items []struct {
			ID       string `json:"id"`
			ClientID string `json:"client_id"`
		} `json:"items"`
	}
	s.Do(http.MethodGet, "/v1/platform/apps", admin, nil).JSON(t, &apps)
	adminApp := ""
	for _, a := range apps.Items {
		if a.ClientID == s.AdminID {
			adminApp = a.ID
		}
	}
	const doc = `{ scopes(first: 1) { nodes { name } } }`
	r := s.Do(http.MethodPost, "/v1/platform/graphql/operations", admin, map[string]any{"name": "one scope", "document": doc, "apps": []string{adminApp}})
	if r.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	var op struct{ ID string }
	r.JSON(t, &op)
	type answer struct {
		Data   map[string]any
		Errors []struct {
			Message    string
			Extensions map[string]any
		}
	}
	other := `mutation { create_app(input: {name: "not run"}) { app { id } } }`
	for _, body := range []map[string]any{
		{"id": op.ID, "query": other},
		{"id": op.ID, "extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": strings.Repeat("ab", 32)}}},
	} {
		var a answer
		r := s.Do(http.MethodPost, "/v1/graphql", admin, body)
		r.JSON(t, &a)
		if r.Status != http.StatusOK || a.Data != nil || len(a.Errors) != 1 || a.Errors[0].Extensions["code"] != "validation_error" {
			t.Errorf("%v: %d %s", body, r.Status, r.Body)
		}
	}
	var a answer
	s.Do(http.MethodPost, "/v1/graphql", admin, map[string]any{"id": op.ID, "query": doc}).JSON(t, &a)
	if len(a.Errors) > 0 || a.Data["scopes"] == nil {
		t.Errorf("the id beside its own document: %+v", a)
	}
}

// TestGraphQLCertificateCredentialIsNoCredential: the schema's Credential
// is an OAuth credential (Query.credentials lists those, as GET
// /v1/credentials does). credential(id:) of a certificate credential
// decoded its REST object as one and answered made-up values for
// non-null fields ("provider": "", "status": "", "grant_type": ""); it
// is not_found, with no data.
func TestGraphQLCertificateCredentialIsNoCredential(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	certPEM, keyPEM := servertest.SelfSignedPEM(t)
	r := s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"type": "certificate", "name": "mtls",
		"certificate_pem": certPEM, "private_key_pem": keyPEM})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var cert struct{ ID string }
	r.JSON(t, &cert)
	r = s.Do(http.MethodPost, "/v1/graphql", admin, map[string]any{"query": `{ credential(id: "` + cert.ID + `") { id name provider grant_type status } }`})
	var a struct {
		Data struct {
			Credential any
		}
		Errors []struct {
			Path       []any
			Extensions map[string]any
		}
	}
	r.JSON(t, &a)
	if r.Status != http.StatusOK || a.Data.Credential != nil || len(a.Errors) != 1 || a.Errors[0].Extensions["code"] != "not_found" ||
		fmt.Sprint(a.Errors[0].Path) != "[credential]" {
		t.Fatalf("a certificate credential: %d %s", r.Status, r.Body)
	}
}
