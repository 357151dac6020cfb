package authz

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
)

const testIssuer = "https://auth.example.com"

// openAPIDoc returns the document as served for testIssuer, decoded.
func openAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	raw, err := OpenAPIDocument(testIssuer)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("the document is not JSON: %v", err)
	}
	return doc
}

// at walks doc along keys; a missing key yields nil.
func at(v any, keys ...string) any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

// resolve follows a local $ref ("#/components/...") to what it names.
func resolve(doc map[string]any, v any) any {
	for {
		ref, ok := at(v, "$ref").(string)
		if !ok {
			return v
		}
		v = at(doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
	}
}

func TestOpenAPIValidates(t *testing.T) {
	for _, src := range []struct {
		name string
		raw  func() ([]byte, error)
	}{
		{"source", func() ([]byte, error) { return openAPISource, nil }},
		{"served", func() ([]byte, error) { return OpenAPIDocument(testIssuer) }},
	} {
		t.Run(src.name, func(t *testing.T) {
			raw, err := src.raw()
			if err != nil {
				t.Fatal(err)
			}
			doc, err := libopenapi.NewDocument(raw)
			if err != nil {
				t.Fatal(err)
			}
			if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1.") {
				t.Fatalf("openapi = %q, want 3.1.x", v)
			}
			v, errs := validator.NewValidator(doc)
			if len(errs) > 0 {
				t.Fatalf("build the model: %v", errs)
			}
			if ok, verrs := v.ValidateDocument(); !ok {
				for _, e := range verrs {
					t.Errorf("%s: %s", e.Message, e.Reason)
					for _, se := range e.SchemaValidationErrors {
						t.Errorf("  at %s (%s): %s", se.FieldPath, se.KeywordLocation, se.Reason)
					}
				}
			}
		})
	}
}

// TestOpenAPIValidatorRejects shows the validation above is not vacuous.
func TestOpenAPIValidatorRejects(t *testing.T) {
	raw := strings.Replace(string(openAPISource), `"title": "Gatehouse",`, ``, 1)
	if raw == string(openAPISource) {
		t.Fatal("info.title not found")
	}
	doc, err := libopenapi.NewDocument([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return // refused while building the model: good too
	}
	if ok, _ := v.ValidateDocument(); ok {
		t.Fatal("a document without info.title validated")
	}
}

func TestOpenAPIServedForIssuer(t *testing.T) {
	e := httpapi.NewEcho(httpapi.Options{})
	RegisterOpenAPI(e, testIssuer)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, OpenAPIPath, nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET %s = %d %s", OpenAPIPath, rec.Code, rec.Header().Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if got := at(doc, "servers").([]any); len(got) != 1 || at(got[0], "url") != testIssuer {
		t.Errorf("servers = %v, want the issuer alone", got)
	}
	flow := at(doc, "components", "securitySchemes", "platformToken", "flows", "clientCredentials")
	if got := at(flow, "tokenUrl"); got != testIssuer+"/v1/oauth/token" {
		t.Errorf("tokenUrl = %v", got)
	}
	if !reflect.DeepEqual(at(doc, "paths"), at(openAPIDoc(t), "paths")) {
		t.Error("the served paths differ from the source's")
	}
}

// jsonFields returns the JSON member names of struct type t (embedded
// structs inlined) and those always present (no omitempty).
func jsonFields(t reflect.Type) (all, always []string) {
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported() && !f.Anonymous:
			continue
		case f.Anonymous && name == "":
			a, r := jsonFields(f.Type)
			all, always = append(all, a...), append(always, r...)
			continue
		case name == "":
			name = f.Name
		}
		all = append(all, name)
		if !strings.Contains(","+opts+",", ",omitempty,") {
			always = append(always, name)
		}
	}
	slices.Sort(all)
	slices.Sort(always)
	return all, always
}

// schemaFields returns the property names of a schema (through $ref and
// allOf) and its required ones.
func schemaFields(doc map[string]any, schema any) (props, required []string) {
	schema = resolve(doc, schema)
	for _, part := range asSlice(at(schema, "allOf")) {
		p, r := schemaFields(doc, part)
		props, required = append(props, p...), append(required, r...)
	}
	if m, ok := at(schema, "properties").(map[string]any); ok {
		props = append(props, slices.Collect(maps.Keys(m))...)
	}
	for _, r := range asSlice(at(schema, "required")) {
		required = append(required, r.(string))
	}
	slices.Sort(props)
	slices.Sort(required)
	return slices.Compact(props), slices.Compact(required)
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// TestOpenAPISchemasMatchGoTypes fails when a JSON field of a request or
// response type is renamed, added or removed without the document.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	doc := openAPIDoc(t)
	for _, tc := range []struct {
		schema string
		goType any
		// response: a field without omitempty is always sent, so it must
		// be required, and one with omitempty must not be.
		response bool
		// request: the server rejects unknown fields.
		request bool
	}{
		{schema: "App", goType: AppView{}, response: true},
		{schema: "AppScope", goType: ScopeView{}, response: true},
		{schema: "AppGrant", goType: GrantView{}, response: true},
		{schema: "AppRedirectURI", goType: RedirectURIView{}, response: true},
		{schema: "ApprovalPolicy", goType: approvalPolicyJSON{}, response: true},
		{schema: "ApprovalPolicyList", goType: Page[approvalPolicyJSON]{}, response: true},
		{schema: "ApprovalPolicySet", goType: approvalPolicyBody{}, request: true},
		{schema: "AppSecret", goType: SecretView{}, response: true},
		{schema: "AppCreated", goType: createdApp{}, response: true},
		{schema: "AppList", goType: Page[AppView]{}, response: true},
		{schema: "AppCreate", goType: createAppRequest{}, request: true},
		{schema: "AppPatch", goType: patchAppRequest{}, request: true},
		{schema: "Introspection", goType: oauth.Introspection{}}, // inactive: {"active": false} alone
		{schema: "Rotation", goType: rotation{}, response: true},
		{schema: "TenantCreate", goType: createTenantRequest{}, request: true},
		{schema: "TenantCreated", goType: tenantCreated{}, response: true},
		{schema: "TenantAdminApp", goType: tenantAdminApp{}, response: true},
		{schema: "Problem", goType: httpapi.Problem{}, response: true},
		{schema: "FieldError", goType: httpapi.FieldError{}, response: true},
		{schema: "Health", goType: httpapi.ReadyResponse{}}, // /healthz sends status alone
		{schema: "ServerMetadata", goType: oauth.ServerMetadata{}, response: true},
		{schema: "ScopeEntry", goType: scopeEntryJSON{}, response: true},
		{schema: "ScopeList", goType: Page[scopeEntryJSON]{}, response: true},
		{schema: "ScopeCreate", goType: scopeRequest{}, request: true},
		{schema: "ScopePatch", goType: scopePatchRequest{}, request: true},
		{schema: "EventTypeEntry", goType: eventTypeEntryJSON{}, response: true},
		{schema: "EventTypeList", goType: Page[eventTypeEntryJSON]{}, response: true},
		{schema: "EventTypeCreate", goType: eventTypeRequest{}, request: true},
		{schema: "ScopeRequests", goType: scopeRequestsBody{}, request: true},
		{schema: "ScopeDecision", goType: scopeDecisionBody{}, request: true},
		{schema: "SecretRotate", goType: rotateSecretBody{}, request: true},
		{schema: "SecretRotated", goType: rotatedSecret{}, response: true},
		{schema: "ServiceTokenRequest", goType: serviceTokenBody{}, request: true},
		{schema: "ServiceToken", goType: serviceToken{}, response: true},
		{schema: "EventFeed", goType: feedPage{}, response: true},
		{schema: "FeedEvent", goType: feedItem{}, response: true},
		{schema: "Webhook", goType: WebhookView{}, response: true},
		{schema: "WebhookCreated", goType: webhookCreated{}, response: true},
		{schema: "WebhookList", goType: Page[WebhookView]{}, response: true},
		{schema: "WebhookCreate", goType: webhookRequest{}, request: true},
		{schema: "WebhookPatch", goType: webhookPatch{}, request: true},
		{schema: "WebhookSecretRotate", goType: rotateWebhookSecret{}, request: true},
		{schema: "WebhookSecretRotated", goType: webhookSecretRotated{}, response: true},
		{schema: "Delivery", goType: DeliveryView{}, response: true},
		{schema: "DeliveryAttempt", goType: DeliveryAttemptView{}, response: true},
		{schema: "DeliveryList", goType: Page[DeliveryView]{}, response: true},
		{schema: "PublishRequest", goType: publishRequest{}, request: true},
		{schema: "Published", goType: published{}, response: true},
	} {
		t.Run(tc.schema, func(t *testing.T) {
			schema := at(doc, "components", "schemas", tc.schema)
			if schema == nil {
				t.Fatalf("no schema %s", tc.schema)
			}
			props, required := schemaFields(doc, schema)
			fields, always := jsonFields(reflect.TypeOf(tc.goType))
			if !slices.Equal(props, fields) {
				t.Errorf("properties %v, Go %T has %v", props, tc.goType, fields)
			}
			if tc.response && !slices.Equal(required, always) {
				t.Errorf("required %v, Go %T always sends %v", required, tc.goType, always)
			}
			if tc.request && at(schema, "additionalProperties") != false {
				t.Error("additionalProperties must be false: httpapi.BindJSON rejects unknown fields")
			}
		})
	}
}

// TestOpenAPIEnumsMatchGo checks the lists the document repeats from the
// code: problem codes, grant types, auth methods, built-in scopes.
func TestOpenAPIEnumsMatchGo(t *testing.T) {
	doc := openAPIDoc(t)
	schemas := at(doc, "components", "schemas")
	sorted := func(v any) []string {
		var out []string
		for _, s := range asSlice(v) {
			out = append(out, s.(string))
		}
		slices.Sort(out)
		return out
	}
	check := func(what string, got any, want []string) {
		t.Helper()
		want = slices.Sorted(slices.Values(want))
		if g := sorted(got); !slices.Equal(g, want) {
			t.Errorf("%s = %v, want %v", what, g, want)
		}
	}
	check("Problem.code enum", at(schemas, "Problem", "properties", "code", "enum"), httpapi.AllCodes())
	for _, s := range []string{"App", "AppCreate", "AppPatch"} {
		check(s+".grant_types enum", at(schemas, s, "properties", "grant_types", "items", "enum"), grantTypes)
	}
	for _, s := range []string{"App", "AppCreate"} {
		check(s+".token_endpoint_auth_method enum", at(schemas, s, "properties", "token_endpoint_auth_method", "enum"), authMethods)
	}
	scopes := at(doc, "components", "securitySchemes", "platformToken", "flows", "clientCredentials", "scopes").(map[string]any)
	want := map[string]any{}
	for _, s := range catalog.BuiltinScopes {
		want[s.Name] = s.Description
	}
	if !reflect.DeepEqual(scopes, want) {
		t.Errorf("platformToken scopes = %v, want the built-in scopes %v", scopes, want)
	}
}

// openAPIOperations calls f with every operation of doc.
func openAPIOperations(doc map[string]any, f func(path, method string, pathItem, op map[string]any)) {
	methods := []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}
	paths := at(doc, "paths").(map[string]any)
	for _, path := range slices.Sorted(maps.Keys(paths)) {
		item := paths[path].(map[string]any)
		for _, m := range methods {
			if op, ok := item[m].(map[string]any); ok {
				f(path, m, item, op)
			}
		}
	}
}

// TestOpenAPIConventions checks what API.md "Conventions" promises of
// every operation, so an operation added later follows it too.
func TestOpenAPIConventions(t *testing.T) {
	doc := openAPIDoc(t)
	ids := map[string]bool{}
	openAPIOperations(doc, func(path, method string, item, op map[string]any) {
		name := strings.ToUpper(method) + " " + path
		id, _ := op["operationId"].(string)
		if id == "" || ids[id] {
			t.Errorf("%s: operationId %q is empty or not unique", name, id)
		}
		ids[id] = true
		if !hasParam(doc, item, op, "header", "X-Request-Id") {
			t.Errorf("%s: no X-Request-Id parameter", name)
		}
		for status, r := range at(op, "responses").(map[string]any) {
			checkResponse(t, name, path, status, resolve(doc, r))
		}
		// The proxy forwards the caller's Idempotency-Key to the provider's
		// API, which decides what a replay means.
		if method == "post" && strings.HasPrefix(path, "/v1/") && !strings.HasPrefix(path, "/v1/oauth/") && !strings.HasPrefix(path, "/v1/proxy/") && !htmlPages[path] &&
			(!hasParam(doc, item, op, "header", "Idempotency-Key") || at(op, "responses", "422") == nil) {
			t.Errorf("%s: every POST accepts Idempotency-Key (and may answer 422)", name)
		}
		if strings.HasPrefix(path, "/v1/platform/") {
			checkPlatformSecurity(t, doc, name, op)
		}
	})
}

func hasParam(doc map[string]any, item, op map[string]any, in, name string) bool {
	for _, p := range append(asSlice(item["parameters"]), asSlice(op["parameters"])...) {
		p = resolve(doc, p)
		if at(p, "in") == in && at(p, "name") == name {
			return true
		}
	}
	return false
}

// checkResponse: every response carries X-Request-Id; errors are problem
// documents, except the OAuth endpoints' RFC 6749 §5.2 errors (always for
// 400 and 401; their other errors may be either).
// htmlPages are the operations a browser uses (package idp); the
// console's (/console…) are all HTML too.
var htmlPages = map[string]bool{"/login": true, "/consent": true, "/account": true, "/account/consents/withdraw": true,
	"/logout": true, "/v1/oauth/authorize": true, "/v1/oauth/logout": true,
	// The vault's redirect_uri, where a provider sends the person back.
	"/v1/credentials/callback": true}

func checkResponse(t *testing.T, name, path, status string, r any) {
	t.Helper()
	if at(r, "headers", "X-Request-Id") == nil {
		t.Errorf("%s %s: no X-Request-Id header", name, status)
	}
	if status < "400" {
		return
	}
	content, _ := at(r, "content").(map[string]any)
	want := []string{"application/problem+json"}
	if htmlPages[path] || strings.HasPrefix(path, "/console") {
		// The hosted pages (and the authorization and logout endpoints,
		// which must not redirect to an unverified client) answer errors
		// on the HTML error page, for the person in the browser.
		want = []string{"text/html"}
	} else if strings.HasPrefix(path, "/v1/oauth/") {
		want = append(want, "application/json")
		if status == "400" || status == "401" {
			want = want[1:]
		}
	} else if path == "/v1/graphql" {
		// GraphQL over HTTP: a request error answered in the media type
		// the caller asked for, application/graphql-response+json, is a
		// GraphQL response with its code's status (API.md "GraphQL
		// transport": errors follow the GraphQL spec); the HTTP request's
		// own errors are problems.
		want = append(want, "application/graphql-response+json")
		if len(content) == 2 && content[want[0]] != nil && content[want[1]] != nil {
			return
		}
	}
	if len(content) != 1 || !slices.ContainsFunc(want, func(ct string) bool { return content[ct] != nil }) {
		t.Errorf("%s %s: content %v, want one of %v", name, status, slices.Collect(maps.Keys(content)), want)
	}
}

// checkPlatformSecurity: a platform operation needs a bearer token with
// one declared scope, and documents 401 and 403.
func checkPlatformSecurity(t *testing.T, doc map[string]any, name string, op map[string]any) {
	t.Helper()
	declared := at(doc, "components", "securitySchemes", "platformToken", "flows", "clientCredentials", "scopes").(map[string]any)
	sec := asSlice(op["security"])
	var scopes []any
	if len(sec) == 1 {
		scopes = asSlice(at(sec[0], "platformToken"))
	}
	// No scope: any valid token of the tenant (scope discovery).
	if len(sec) != 1 || len(scopes) > 1 || len(scopes) == 1 && declared[scopes[0].(string)] == nil {
		t.Errorf("%s: security %v, want platformToken with one built-in scope, or none", name, sec)
	}
	for _, s := range []string{"401", "403"} {
		if at(op, "responses", s) == nil {
			t.Errorf("%s: no %s response", name, s)
		}
	}
}
