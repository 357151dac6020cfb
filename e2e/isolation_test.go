package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// isolationBodies are request bodies valid in the calling tenant, keyed by
// "METHOD /path/template", so that a change of another tenant's resource
// gets as far as looking it up (a 400 would prove nothing). Operations
// that take no body are not listed.
var isolationBodies = map[string]any{
	"PATCH /v1/platform/apps/{id}":                 map[string]any{"name": "taken-over"},
	"POST /v1/platform/apps/{id}/scope-requests":   map[string]any{"scopes": []string{"webhooks:read"}},
	"POST /v1/platform/apps/{id}/scope-decisions":  map[string]any{"scope": "webhooks:read", "decision": "approve"},
	"POST /v1/platform/apps/{id}/secrets":          map[string]any{"grace_period_seconds": 0},
	"POST /v1/platform/apps/{id}/tokens":           map[string]any{},
	"PATCH /v1/platform/scopes/{name}":             map[string]any{"description": "taken over"},
	"PATCH /v1/platform/users/{id}":                map[string]any{"name": "taken over", "password": "taken-over-passphrase-9"},
	"PATCH /v1/webhooks/{id}":                      map[string]any{"description": "taken over"},
	"PUT /v1/platform/approval-policies/{subject}": map[string]any{"approvals_required": 3},
	"POST /v1/webhooks/{id}/secret/rotate":         map[string]any{"grace_period_seconds": 0},
	"POST /v1/platform/activities/{id}/decisions":  map[string]any{"decision": "approve"},
}

// tenantRelative are the routes whose path parameters name no resource
// of a tenant but one every tenant has of its own (an approval policy per
// kind): B's call answers B's own (2xx), and A's snapshot proves A's did
// not change.
var tenantRelative = map[string]bool{"/v1/platform/approval-policies/{subject}": true}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// isolationRoute is where a documented route with path parameters points
// at tenant A's resources: a is every parameter A's; mixed, for nested
// routes, is B's own parent holding A's child (a handler that checks the
// parent only must still answer 404).
type isolationRoute struct{ a, mixed string }

// tenantA is one of every kind of resource in a tenant, as its admin made
// them.
type tenantA struct {
	api                 *api
	creds               credentials
	app                 appView
	secretIDs           []string
	serviceToken        serviceTokenView
	appToken            string
	scope, eventType    string
	webhook, delivery   string
	eventID, adminAppID string
	user                userView
	// gqlOp is an approved GraphQL operation of A's app, gqlHash its
	// persisted-query hash.
	gqlOp, gqlHash string
	activity       string
}

// TestTenantIsolationMatrix (API.md "Conventions", DESIGN.md invariant 4):
// tenant B's admin, holding every tenant scope, calls every documented
// operation of the platform and webhooks APIs on tenant A's resources:
// each answers 404 not_found, and nothing of A changes (every GET of A,
// A's lists and A's whole feed read the same before and after). B's
// lists, catalogs and feed never show anything of A; references to A's
// scopes and event types do not resolve in B; A's names are free in B (a
// 409 would tell they exist); B can neither introspect nor revoke A's
// tokens, nor deliver to A's webhooks. The routes come from the served
// OpenAPI document: a documented route with path parameters that the
// matrix below does not know fails the test, so a route added later is
// added here. The GraphQL transport is walked too (crossTenantGraphQL):
// A's ids in B's queries and mutations, A's approved operation by id and
// by hash, B's lists.
func TestTenantIsolationMatrix(t *testing.T) {
	t.Parallel()
	s := startServer(t, withEnv("WEBHOOK_ALLOW_PRIVATE", "true")) // deliveries to a loopback receiver
	root := adminAPI(t, s)
	a := populateTenantA(t, s, root)
	b, bCreds := isolationTenant(t, s, root, "b")
	bApp := b.createApp(map[string]any{"name": uniqueName(t, "b-app")})
	bHookType, _ := webhookTenant(t, b)
	bHook := b.subscribe(newReceiver(t).srv.URL, bHookType)

	const apps, hooks = "/v1/platform/apps/", "/v1/webhooks/"
	matrix := map[string]isolationRoute{
		"/v1/platform/apps/{id}":                           {a: apps + a.app.ID},
		"/v1/platform/apps/{id}/scope-requests":            {a: apps + a.app.ID + "/scope-requests"},
		"/v1/platform/apps/{id}/scope-decisions":           {a: apps + a.app.ID + "/scope-decisions"},
		"/v1/platform/apps/{id}/secrets":                   {a: apps + a.app.ID + "/secrets"},
		"/v1/platform/apps/{id}/secrets/{secret_id}":       {a: apps + a.app.ID + "/secrets/" + a.secretIDs[0], mixed: apps + bApp.ID + "/secrets/" + a.secretIDs[0]},
		"/v1/platform/apps/{id}/tokens":                    {a: apps + a.app.ID + "/tokens"},
		"/v1/platform/apps/{id}/tokens/{jti}":              {a: apps + a.app.ID + "/tokens/" + a.serviceToken.JTI}, // B's app with A's jti: crossTenantTokens
		"/v1/platform/scopes/{name}":                       {a: "/v1/platform/scopes/" + url.PathEscape(a.scope)},
		"/v1/platform/users/{id}":                          {a: "/v1/platform/users/" + a.user.ID},
		"/v1/platform/event-types/{name}":                  {a: "/v1/platform/event-types/" + url.PathEscape(a.eventType)},
		"/v1/platform/approval-policies/{subject}":         {a: "/v1/platform/approval-policies/redirect_uri"},
		"/v1/platform/activities/{id}":                     {a: "/v1/platform/activities/" + a.activity},
		"/v1/platform/activities/{id}/decisions":           {a: "/v1/platform/activities/" + a.activity + "/decisions"},
		"/v1/webhooks/{id}":                                {a: hooks + a.webhook},
		"/v1/webhooks/{id}/secret/rotate":                  {a: hooks + a.webhook + "/secret/rotate"},
		"/v1/webhooks/{id}/test":                           {a: hooks + a.webhook + "/test"},
		"/v1/webhooks/{id}/deliveries":                     {a: hooks + a.webhook + "/deliveries"},
		"/v1/webhooks/{id}/deliveries/{delivery_id}/retry": {a: hooks + a.webhook + "/deliveries/" + a.delivery + "/retry", mixed: hooks + bHook.ID + "/deliveries/" + a.delivery + "/retry"},
		"/v1/platform/graphql/operations/{id}":             {a: "/v1/platform/graphql/operations/" + a.gqlOp},
	}
	ops := documentedOperations(t, b)
	before := a.snapshot(t, ops, matrix)

	tried := 0
	for _, op := range ops {
		params := pathParam.FindAllString(op.path, -1)
		if len(params) == 0 || !tenantScopedPath(op.path) {
			continue
		}
		route, ok := matrix[op.path]
		if !ok {
			t.Errorf("%s: the matrix has no resource of tenant A for %s: add the route to TestTenantIsolationMatrix", op, op.path)
			continue
		}
		for _, p := range []string{route.a, route.mixed} {
			if p == "" {
				continue
			}
			if tenantRelative[op.path] {
				if r := b.call(op.method, p, isolationBodies[op.String()]); r.Status != http.StatusOK {
					t.Errorf("%s %s as tenant B (its own) = %s, want 200", op.method, p, r)
				}
				continue
			}
			if r := b.call(op.method, p, isolationBodies[op.String()]); !isProblem(r, http.StatusNotFound, "not_found") {
				t.Errorf("%s %s as tenant B = %s, want 404 not_found", op.method, p, r)
			}
			tried++
		}
	}
	for path := range matrix {
		if !slices.ContainsFunc(ops, func(op documentedOp) bool { return op.path == path }) {
			t.Errorf("the matrix lists %s, which the document does not: remove it", path)
		}
	}
	if tried < 20 {
		t.Errorf("only %d calls on tenant A's resources", tried)
	}
	if after := a.snapshot(t, ops, matrix); !slices.Equal(after, before) {
		for i := range min(len(before), len(after)) {
			if after[i] != before[i] {
				t.Errorf("tenant A changed:\n before %s\n after  %s", tail(before[i], 600), tail(after[i], 600))
			}
		}
	}

	crossTenantReads(t, a, b)
	crossTenantReferences(t, a, b)
	crossTenantTokens(t, a, b, bCreds, bApp)
	crossTenantGraphQL(t, a, b)
}

// populateTenantA makes tenant A and one of everything in it: a scope and
// an event type of its catalog, an app with a decided scope, two secrets
// and a service token, a webhook with one delivered event.
func populateTenantA(t *testing.T, s *server, root *api) tenantA {
	t.Helper()
	var a tenantA
	a.api, a.creds = isolationTenant(t, s, root, "a")
	a.adminAppID = a.api.adminApp().ID
	a.eventType, a.scope = webhookTenant(t, a.api)
	// A token carrying the scope the admin just got: managing an app
	// needs every scope approved for it (issue 12 point 1).
	a.api = a.api.as(a.api.mint(a.creds).AccessToken)
	a.app = a.api.createApp(map[string]any{"name": uniqueName(t, "a-app"), "requested_scopes": []string{"webhooks:read", a.scope}})
	a.api.decide(a.app.ID, "webhooks:read", "approve", "")
	if r := a.api.call(http.MethodPost, "/v1/platform/apps/"+a.app.ID+"/secrets", map[string]any{"grace_period_seconds": 3600}); r.Status != http.StatusCreated {
		t.Fatalf("rotate: %s", r)
	}
	var view appView
	a.api.call(http.MethodGet, "/v1/platform/apps/"+a.app.ID, nil).decode(t, &view)
	for _, sec := range view.Secrets {
		a.secretIDs = append(a.secretIDs, sec.ID)
	}
	if len(a.secretIDs) != 2 {
		t.Fatalf("tenant A's app has %d secrets after a rotation with grace, want 2", len(a.secretIDs))
	}
	if r := a.api.call(http.MethodPost, "/v1/platform/apps/"+a.app.ID+"/tokens", map[string]any{}); r.Status != http.StatusCreated {
		t.Fatalf("service token: %s", r)
	} else {
		r.decode(t, &a.serviceToken)
	}
	a.appToken = a.api.mint(appCreds(a.app)).AccessToken
	a.user = a.api.createUser(map[string]any{"email": uniqueEmail(t), "name": "A's user", "password": userPassword, "roles": []string{"admin"}})
	// An approval activity (issue 15): a credential's create under a
	// policy of two admins waits for the second.
	if r := a.api.call(http.MethodPut, "/v1/platform/approval-policies/credential_create", map[string]any{"approvals_required": 2}); r.Status != http.StatusOK {
		t.Fatalf("credential_create policy: %s", r)
	}
	r := a.api.call(http.MethodPost, "/v1/credentials", map[string]any{"name": uniqueName(t, "a-cred"), "provider": "google",
		"client_id": "a-google-client", "client_secret": "a-google-client-secret-0123456789"})
	if r.Status != http.StatusAccepted {
		t.Fatalf("credential activity: %s", r)
	}
	var act struct {
		ID string `json:"id"`
	}
	r.decode(t, &act)
	a.activity = act.ID
	rcv := newReceiver(t)
	a.webhook = a.api.subscribe(rcv.srv.URL, a.eventType).ID
	a.eventID = a.api.publish(a.eventType, map[string]any{"case": "a-1"})
	waitFor(t, 30*time.Second, "tenant A's delivery", func() bool {
		d := a.api.deliveries(a.webhook, "delivered")
		if len(d) == 1 {
			a.delivery = d[0].ID
		}
		return a.delivery != ""
	})
	const doc = `query AppsA { apps { nodes { id name } } }`
	r = a.api.call(http.MethodPost, "/v1/platform/graphql/operations", map[string]any{"name": "a's apps", "document": doc, "apps": []string{a.app.ID}})
	if r.Status != http.StatusCreated {
		t.Fatalf("approve a GraphQL operation: %s", r)
	}
	var op struct{ ID, SHA256 string }
	r.decode(t, &op)
	a.gqlOp, a.gqlHash = op.ID, op.SHA256
	return a
}

// isolationTenant creates a tenant and returns its admin's API, holding
// every tenant scope, and credentials.
func isolationTenant(t *testing.T, s *server, root *api, name string) (*api, credentials) {
	t.Helper()
	r := root.call(http.MethodPost, "/v1/tenants", map[string]any{"name": uniqueName(t, name)})
	if r.Status != http.StatusCreated {
		t.Fatalf("create tenant: %s", r)
	}
	var ten tenantCreated
	r.decode(t, &ten)
	c := credentials{ten.AdminApp.ClientID, ten.AdminApp.ClientSecret, oauth2.AuthStyleInHeader}
	a := newAPI(t, s, "")
	a.admin = c
	a.token = a.mint(c).AccessToken
	return a, c
}

// documentedOp is one operation of the OpenAPI document.
type documentedOp struct{ method, path string }

func (o documentedOp) String() string { return o.method + " " + o.path }

// documentedOperations reads the served OpenAPI document.
func documentedOperations(t *testing.T, c *api) []documentedOp {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	c.call(http.MethodGet, "/v1/openapi.json", nil).decode(t, &doc)
	var ops []documentedOp
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "patch", "delete":
				ops = append(ops, documentedOp{strings.ToUpper(method), path})
			}
		}
	}
	slices.SortFunc(ops, func(x, y documentedOp) int { return strings.Compare(x.String(), y.String()) })
	return ops
}

// tenantScopedPath: the tenant-scoped APIs the matrix covers.
func tenantScopedPath(path string) bool {
	return strings.HasPrefix(path, "/v1/platform/") || strings.HasPrefix(path, "/v1/webhooks")
}

func isProblem(r reply, status int, code string) bool {
	var p problem
	return r.Status == status && strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") &&
		json.Unmarshal(r.Body, &p) == nil && p.Code == code
}

// snapshot is everything tenant A reads of itself: every documented GET
// of its resources, its lists and catalogs, and its whole feed.
func (a tenantA) snapshot(t *testing.T, ops []documentedOp, matrix map[string]isolationRoute) []string {
	t.Helper()
	var out []string
	for _, op := range ops {
		if op.method != http.MethodGet || !tenantScopedPath(op.path) {
			continue
		}
		p := op.path
		if strings.Contains(p, "{") {
			p = matrix[op.path].a
		}
		if p == "" || p == "/v1/platform/events" {
			continue
		}
		if !strings.Contains(p, "?") && !strings.Contains(op.path, "{") {
			p += "?limit=500"
		}
		r := a.api.call(http.MethodGet, p, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("tenant A reading %s: %s", p, r)
		}
		out = append(out, fmt.Sprintf("GET %s: %s %s", p, r.Header.Get("ETag"), r.Body))
	}
	for _, stream := range []string{"control", "events"} {
		b, _ := json.Marshal(a.api.feed(t, stream, ""))
		out = append(out, "feed "+stream+": "+string(b))
	}
	return out
}

// crossTenantReads: B's lists, catalogs and feed show nothing of A.
func crossTenantReads(t *testing.T, a tenantA, b *api) {
	t.Helper()
	marks := map[string]string{"app id": a.app.ID, "client id": a.app.ClientID, "scope": a.scope, "event type": a.eventType,
		"webhook": a.webhook, "delivery": a.delivery, "published event": a.eventID, "jti": a.serviceToken.JTI,
		"admin app": a.adminAppID, "secret id": a.secretIDs[1]}
	for _, path := range []string{"/v1/platform/apps?limit=500", "/v1/platform/scopes?limit=500", "/v1/platform/event-types?limit=500",
		"/v1/webhooks?limit=500", "/v1/platform/events?limit=500", "/v1/platform/events?stream=events&limit=500"} {
		r := b.call(http.MethodGet, path, nil)
		if r.Status != http.StatusOK {
			t.Errorf("GET %s as B: %s", path, r)
			continue
		}
		for what, v := range marks {
			if bytes.Contains(r.Body, []byte(v)) {
				t.Errorf("GET %s as B shows tenant A's %s", path, what)
			}
		}
	}
	feed, _ := json.Marshal(append(b.feed(t, "control", ""), b.feed(t, "events", "")...))
	for what, v := range marks {
		if bytes.Contains(feed, []byte(v)) {
			t.Errorf("B's whole feed shows tenant A's %s", what)
		}
	}
}

// crossTenantReferences: A's scope and event type do not resolve in B,
// A's names are free in B, and what B publishes never reaches A's webhook.
func crossTenantReferences(t *testing.T, a tenantA, b *api) {
	t.Helper()
	for _, c := range []struct {
		path string
		body map[string]any
	}{
		{"/v1/platform/apps", map[string]any{"name": uniqueName(t, "ref"), "requested_scopes": []string{a.scope}}},
		{"/v1/platform/event-types", map[string]any{"name": "iso.ref_" + strings.ToLower(rand.Text()[:8]), "scope": a.scope}},
		{"/v1/webhooks", map[string]any{"url": "http://127.0.0.1:9/hook", "events": []string{a.eventType}}},
		{"/v1/events", map[string]any{"type": a.eventType, "data": map[string]any{}}},
	} {
		if r := b.call(http.MethodPost, c.path, c.body); r.Status < 400 || r.Status >= 500 || r.Status == http.StatusUnauthorized {
			t.Errorf("POST %s as B naming tenant A's scope or event type = %s, want a 4xx", c.path, r)
		}
	}
	// What belongs to no tenant is not a tenant admin's.
	wantProblem(t, b.call(http.MethodPost, "/v1/platform/keys/rotate", nil), http.StatusForbidden, "insufficient_scope")
	wantProblem(t, b.call(http.MethodPost, "/v1/tenants", map[string]any{"name": uniqueName(t, "by-b")}), http.StatusForbidden, "insufficient_scope")
	// The same names in B are B's own: no 409 tells A's apart.
	b.defineScope(map[string]any{"name": a.scope, "requires_approval": false})
	if r := b.call(http.MethodPost, "/v1/platform/event-types", map[string]any{"name": a.eventType, "scope": a.scope}); r.Status != http.StatusCreated {
		t.Errorf("B defining tenant A's event type name: %s", r)
	}
	b.createApp(map[string]any{"name": a.app.Name})
	b.createUser(map[string]any{"email": strings.ToUpper(a.user.Email), "name": "B's user", "password": userPassword})
	// B publishes that type: A's webhook gets no delivery of it.
	me := b.adminApp()
	if r := b.call(http.MethodPost, "/v1/platform/apps/"+me.ID+"/scope-requests", map[string]any{"scopes": []string{a.scope}}); r.Status != http.StatusOK {
		t.Fatalf("scope request in B: %s", r)
	}
	rcv := newReceiver(t)
	bHook := b.subscribe(rcv.srv.URL, a.eventType)
	b.publish(a.eventType, map[string]any{"case": "b-1"})
	waitFor(t, 30*time.Second, "B's own delivery", func() bool { return len(b.deliveries(bHook.ID, "delivered")) == 1 })
	if d := a.api.deliveries(a.webhook, ""); len(d) != 1 || d[0].ID != a.delivery {
		t.Errorf("tenant A's webhook has %d deliveries after B published its type, want only its own", len(d))
	}
}

// crossTenantTokens: B's introspection of A's tokens says only inactive;
// B's revocations of them do nothing: through OAuth (RFC 7009) or as a jti
// of B's own app, which is answered like any jti (204, revoking nothing of
// another app: no answer tells that A's token exists).
func crossTenantTokens(t *testing.T, a tenantA, b *api, bCreds credentials, bApp appView) {
	t.Helper()
	for _, jti := range []string{a.serviceToken.JTI, "no-such-jti-" + strings.ToLower(rand.Text()[:8])} {
		if r := b.call(http.MethodDelete, "/v1/platform/apps/"+bApp.ID+"/tokens/"+jti, nil); r.Status != http.StatusNoContent {
			t.Errorf("B revoking a jti of its own app = %s, want 204 whatever the jti", r)
		}
	}
	for _, tok := range []string{a.appToken, a.serviceToken.AccessToken} {
		if in := b.introspect(bCreds, tok); in["active"] != false || len(in) != 1 {
			t.Errorf("B introspecting A's token = %v, want only active false", in)
		}
		if r := b.form("/v1/oauth/revoke", url.Values{"token": {tok}}, bCreds.id, bCreds.secret); r.Status != http.StatusOK {
			t.Errorf("B revoking A's token = %s, want 200 (RFC 7009: nothing to say)", r)
		}
		if v, _ := a.api.introspect(a.creds, tok)["active"].(bool); !v {
			t.Error("B's revocation killed tenant A's token")
		}
	}
	if r := a.api.as(a.appToken).call(http.MethodGet, "/v1/platform/scopes", nil); r.Status != http.StatusOK {
		t.Errorf("tenant A's app token after B's revocation: %s", r)
	}
}

// crossTenantGraphQL: through GraphQL too, tenant B's admin (holding
// graphql:adhoc) gets not_found for every id of A, in queries and in
// mutations, sees nothing of A in its lists, and cannot run A's approved
// operation by id or by hash.
func crossTenantGraphQL(t *testing.T, a tenantA, b *api) {
	t.Helper()
	g := newGQL(t, b)
	for _, tc := range []struct {
		doc  string
		vars map[string]any
	}{
		{`query($id: ID!) { app(id: $id) { id name } }`, map[string]any{"id": a.app.ID}},
		{`query($id: ID!) { webhook(id: $id) { id url } }`, map[string]any{"id": a.webhook}},
		{`mutation($id: ID!) { update_app(id: $id, input: {name: "taken-over"}) { app { id } } }`, map[string]any{"id": a.app.ID}},
		{`mutation($id: ID!) { request_scopes(app_id: $id, scopes: ["webhooks:read"]) { id } }`, map[string]any{"id": a.app.ID}},
		{`mutation($id: ID!) { decide_scope(app_id: $id, input: {scope: "webhooks:read", decision: "revoke"}) { id } }`, map[string]any{"id": a.app.ID}},
		{`mutation($id: ID!) { rotate_secret(app_id: $id, grace_period_seconds: 0) { id } }`, map[string]any{"id": a.app.ID}},
		{`mutation($h: ID!, $d: ID!) { retry_delivery(webhook_id: $h, delivery_id: $d) { id } }`, map[string]any{"h": a.webhook, "d": a.delivery}},
	} {
		wantGQLError(t, g.do(b.token, map[string]any{"query": tc.doc, "variables": tc.vars}), "not_found")
	}
	lists := g.do(b.token, map[string]any{"query": `{ apps(first: 500) { nodes { id client_id webhooks { id } } } webhooks(first: 500) { nodes { id app_id } }
  scopes(first: 500) { nodes { name } } event_types(first: 500) { nodes { name } } audit_events(first: 500) { nodes { id subject data } } }`})
	if len(lists.Errors) > 0 {
		t.Fatalf("B's lists through GraphQL: %s", lists.reply)
	}
	// (A's scope and event-type names are B's own by now:
	// crossTenantReferences defined them in B.)
	for what, v := range map[string]string{"app": a.app.ID, "client id": a.app.ClientID, "webhook": a.webhook, "event": a.eventID, "delivery": a.delivery} {
		if bytes.Contains(lists.Body, []byte(v)) {
			t.Errorf("B's GraphQL lists show A's %s %s", what, v)
		}
	}
	wantGQLError(t, g.do(b.token, map[string]any{"id": a.gqlOp}), "not_found")
	wantGQLError(t, g.do(b.token, map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": a.gqlHash}}}), "not_found")
	// A's own app still runs it (the operation is A's, approved for it).
	if r := g.do(a.appToken, map[string]any{"id": a.gqlOp}); r.Status != http.StatusOK || r.Errors != nil && r.Errors[0].Extensions["code"] != "insufficient_scope" {
		t.Errorf("A's app running its operation: %s", r.reply)
	}
}
