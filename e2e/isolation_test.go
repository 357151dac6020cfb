package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// isolationBodies are request bodies valid in the calling tenant, so that
// a change of another tenant's resource gets as far as looking it up.
var isolationBodies = map[string]any{
	"PATCH /v1/platform/apps/{id}":                  map[string]any{"name": "taken-over"},
	"POST /v1/platform/apps/{id}/scope-requests":    map[string]any{"scopes": []string{"webhooks:read"}},
	"POST /v1/platform/apps/{id}/scope-decisions":   map[string]any{"scope": "webhooks:read", "decision": "approve"},
	"POST /v1/platform/apps/{id}/secrets":           map[string]any{"grace_period_seconds": 0},
	"POST /v1/platform/apps/{id}/tokens":            map[string]any{},
	"PATCH /v1/webhooks/{id}":                       map[string]any{"description": "taken over"},
	"POST /v1/webhooks/{id}/secret/rotate":          map[string]any{"grace_period_seconds": 0},
	"POST /v1/webhooks/{id}/test":                   map[string]any{},
	"POST /v1/webhooks/{id}/deliveries/{id2}/retry": map[string]any{},
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// TestTenantIsolationMatrix: tenant B's admin, holding every tenant
// scope, calls every documented operation of the platform and webhooks
// APIs on tenant A's resources: each answers 404, nothing of A changes,
// B's lists and feed show nothing of A, and B can neither introspect nor
// revoke A's tokens. The operations come from the served OpenAPI
// document, so a route added later is in the matrix, or the test says it
// does not know what id to give it.
func TestTenantIsolationMatrix(t *testing.T) {
	t.Parallel()
	s := shared(t)
	root := adminAPI(t, s)
	tenant := func(name string) (*api, credentials) {
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
	a, aCreds := tenant("a")
	b, bCreds := tenant("b")

	// One of everything in A.
	scope := scopeName("secret")
	a.defineScope(map[string]any{"name": scope, "description": "A's own scope", "requires_approval": false})
	app := a.createApp(map[string]any{"name": uniqueName(t, "a-app"), "requested_scopes": []string{"webhooks:read", scope}})
	a.decide(app.ID, "webhooks:read", "approve", "")
	var view appView
	a.call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil).decode(t, &view)
	var st serviceTokenView
	if r := a.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/tokens", map[string]any{}); r.Status != http.StatusCreated {
		t.Fatalf("service token: %s", r)
	} else {
		r.decode(t, &st)
	}
	appTok := a.mint(appCreds(app)).AccessToken
	et := "secret.changed_" + strings.ToLower(scope[len("secret:"):])
	if r := a.call(http.MethodPost, "/v1/platform/event-types", map[string]any{"name": et, "scope": scope}); r.Status != http.StatusCreated {
		t.Fatalf("event type: %s", r)
	}
	ids := map[string]string{"id": app.ID, "secret_id": view.Secrets[0].ID, "jti": st.JTI, "name": scope}

	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	b.call(http.MethodGet, "/v1/openapi.json", nil).decode(t, &doc)
	tried := 0
	for path, item := range doc.Paths {
		if !strings.HasPrefix(path, "/v1/platform/") && !strings.HasPrefix(path, "/v1/webhooks") {
			continue
		}
		for method := range item {
			if method == "parameters" {
				continue
			}
			m := strings.ToUpper(method)
			key := m + " " + path
			params := pathParam.FindAllStringSubmatch(path, -1)
			if len(params) == 0 {
				continue // lists and creates: see below
			}
			p := path
			for _, pm := range params {
				id, ok := ids[pm[1]]
				if strings.HasPrefix(path, "/v1/platform/event-types/") {
					id = et
				}
				if !ok {
					t.Errorf("%s: the matrix has no resource of tenant A for {%s}: add one", key, pm[1])
					continue
				}
				p = strings.Replace(p, pm[0], url.PathEscape(id), 1)
			}
			body := isolationBodies[key]
			if body == nil && m != http.MethodGet && m != http.MethodDelete {
				body = map[string]any{}
			}
			r := b.call(m, p, body)
			if r.Status != http.StatusNotFound {
				t.Errorf("%s on tenant A's resource as tenant B = %s, want 404", key, r)
			}
			tried++
		}
	}
	if tried < 8 {
		t.Errorf("only %d operations with a resource id in the matrix", tried)
	}

	// Nothing of A changed.
	var after appView
	a.call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil).decode(t, &after)
	if after.Version != view.Version || after.Name != view.Name || len(after.Secrets) != 1 {
		t.Errorf("tenant A's app changed: version %d → %d, name %q → %q, %d secrets", view.Version, after.Version, view.Name, after.Name, len(after.Secrets))
	}
	a.mint(appCreds(app))
	if !a.active(st.AccessToken) || !a.active(appTok) {
		t.Error("tenant A's tokens died")
	}

	// B's lists, catalogs and feed hold nothing of A.
	for _, path := range []string{"/v1/platform/apps?limit=500", "/v1/platform/scopes", "/v1/platform/event-types",
		"/v1/platform/events?limit=500", "/v1/platform/events?stream=events&limit=500"} {
		r := b.call(http.MethodGet, path, nil)
		if r.Status != http.StatusOK {
			t.Errorf("GET %s as B: %s", path, r)
			continue
		}
		for what, v := range map[string]string{"app id": app.ID, "client id": app.ClientID, "scope": scope, "jti": st.JTI} {
			if strings.Contains(string(r.Body), v) {
				t.Errorf("GET %s as B shows tenant A's %s", path, what)
			}
		}
	}
	// Introspection and revocation across tenants.
	if in := b.introspect(bCreds, appTok); in["active"] != false || len(in) != 1 {
		t.Errorf("B introspecting A's token = %v, want only active false", in)
	}
	if r := b.form("/v1/oauth/revoke", url.Values{"token": {appTok}}, bCreds.id, bCreds.secret); r.Status != http.StatusOK {
		t.Errorf("B revoking A's token = %s, want 200 (RFC 7009: nothing to say)", r)
	}
	if !a.active(appTok) {
		t.Error("B revoked tenant A's token")
	}
	if v, _ := a.introspect(aCreds, appTok)["active"].(bool); !v {
		t.Error("A's own introspection calls its token inactive")
	}
}
