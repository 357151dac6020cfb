package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestInputHygiene sends the real server, through HTTP, bodies that the
// input hygiene rules refuse (API.md "Conventions", issue 12 point 7):
// control and format characters in names and descriptions, invalid UTF-8,
// duplicate keys and keys of another case, arrays past their cap, the
// reserved system: prefix. Each is 400 validation_error naming the field,
// and none changes anything: the apps, the catalogs and the webhooks read
// the same before and after.
func TestInputHygiene(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	a := adminAPI(t, s)
	read := func() string {
		var b strings.Builder
		for _, p := range []string{"/v1/platform/apps?limit=500", "/v1/platform/scopes?limit=500", "/v1/platform/event-types?limit=500", "/v1/webhooks?limit=500"} {
			r := a.call(http.MethodGet, p, nil)
			if r.Status != http.StatusOK {
				t.Fatalf("GET %s: %s", p, r)
			}
			b.Write(r.Body)
		}
		return b.String()
	}
	before := read()
	uris := make([]string, 21)
	for i := range uris {
		uris[i] = "https://app.example.com/cb/" + strings.Repeat("x", i)
	}
	cases := []struct {
		name, path, body, field string
	}{
		{"NUL in an app name", "/v1/platform/apps", `{"name":"a\u0000b"}`, "name"},
		{"CR LF in an app name", "/v1/platform/apps", `{"name":"a\r\nX-Injected: 1"}`, "name"},
		{"TAB in an app name", "/v1/platform/apps", `{"name":"a\tb"}`, "name"},
		{"C1 control in an app name", "/v1/platform/apps", `{"name":"a\u009bb"}`, "name"},
		{"bidi override in an app name", "/v1/platform/apps", `{"name":"Invoice \u202efdp.exe"}`, "name"},
		{"bidi isolate in an app name", "/v1/platform/apps", `{"name":"a\u2067b"}`, "name"},
		{"zero-width space in an app name", "/v1/platform/apps", `{"name":"Bil\u200bling"}`, "name"},
		{"BOM in an app name", "/v1/platform/apps", `{"name":"\ufeffBilling"}`, "name"},
		{"invalid UTF-8 in an app name", "/v1/platform/apps", "{\"name\":\"a\xc3\x28\"}", "name"},
		{"lone surrogate in an app name", "/v1/platform/apps", `{"name":"a\udc00"}`, "name"},
		{"duplicate key", "/v1/platform/apps", `{"name":"one","name":"two"}`, "name"},
		{"key of another case", "/v1/platform/apps", `{"NAME":"one"}`, "NAME"},
		{"keys differing only in case", "/v1/platform/apps", `{"name":"one","Name":"two"}`, "Name"},
		{"duplicate metadata key", "/v1/platform/apps", `{"name":"one","metadata":{"team":"a","team":"b"}}`, "metadata.team"},
		{"duplicate key deep in metadata", "/v1/platform/apps", `{"name":"one","metadata":{"a":{"b":[{"c":1,"c":2}]}}}`, "metadata.a.b[0].c"},
		{"control in a metadata key", "/v1/platform/apps", `{"name":"one","metadata":{"te\u0000am":"a"}}`, "metadata"},
		{"21 redirect URIs", "/v1/platform/apps", string(mustJSON(t, map[string]any{"name": "one", "grant_types": []string{"authorization_code"}, "redirect_uris": uris})), "redirect_uris"},
		{"4 grant types", "/v1/platform/apps", `{"name":"one","grant_types":["client_credentials","client_credentials","client_credentials","client_credentials"]}`, "grant_types"},
		{"101 requested scopes", "/v1/platform/apps", string(mustJSON(t, map[string]any{"name": "one", "requested_scopes": slices.Repeat([]string{"webhooks:read"}, 101)})), "requested_scopes"},
		{"zero-width in a requested scope", "/v1/platform/apps", `{"name":"one","requested_scopes":["webhooks:read\u200b"]}`, "requested_scopes[0]"},
		{"bidi in a scope description", "/v1/platform/scopes", `{"name":"cases:read","description":"Read \u202ecases"}`, "description"},
		{"CR in a scope description", "/v1/platform/scopes", `{"name":"cases:read","description":"Read\rcases"}`, "description"},
		{"a system: scope", "/v1/platform/scopes", `{"name":"system:tenants:read"}`, "name"},
		{"an event type with a system: scope", "/v1/platform/event-types", `{"name":"case.updated","scope":"system:tenants:write"}`, "scope"},
		{"NUL in an event type description", "/v1/platform/event-types", `{"name":"case.updated","scope":"webhooks:read","description":"\u0000"}`, "description"},
		{"bidi in a webhook description", "/v1/webhooks", `{"url":"https://93.184.215.14/hook","events":["app.created"],"description":"\u2066x"}`, "description"},
		{"101 webhook events", "/v1/webhooks", string(mustJSON(t, map[string]any{"url": "https://93.184.215.14/hook", "events": slices.Repeat([]string{"app.created"}, 101)})), "events"},
		{"NUL in a tenant name", "/v1/tenants", `{"name":"acme\u0000"}`, "name"},
		{"zero-width joiner in a tenant name", "/v1/tenants", `{"name":"ac\u200dme"}`, "name"},
		{"duplicate key in published data", "/v1/events", `{"type":"app.created","data":{"k":1,"k":2}}`, "data.k"},
		{"duplicate type of a published event", "/v1/events", `{"type":"app.created","type":"app.deleted"}`, "type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := wantProblem(t, a.in(t).call(http.MethodPost, tc.path, tc.body), http.StatusBadRequest, "validation_error")
			if len(p.Errors) != 1 || p.Errors[0].Field != tc.field || p.Errors[0].Message == "" {
				t.Fatalf("errors = %+v, want one naming %q", p.Errors, tc.field)
			}
		})
	}
	app := a.createApp(map[string]any{"name": "hygiene"})
	t.Run("PATCH", func(t *testing.T) {
		for body, field := range map[string]string{
			`{"name":"a\u2028b"}`:                                 "name",
			`{"active":false,"active":true}`:                      "active",
			`{"Active":false}`:                                    "Active",
			`{"metadata":{"k":1,"k":1}}`:                          "metadata.k",
			`{"redirect_uris":` + string(mustJSON(t, uris)) + `}`: "redirect_uris",
		} {
			p := wantProblem(t, a.in(t).call(http.MethodPatch, "/v1/platform/apps/"+app.ID, body), http.StatusBadRequest, "validation_error")
			if len(p.Errors) != 1 || p.Errors[0].Field != field {
				t.Errorf("PATCH %s: errors = %+v, want one naming %q", body, p.Errors, field)
			}
		}
	})
	t.Run("multi-line text and non-ASCII are fine", func(t *testing.T) {
		r := a.in(t).call(http.MethodPost, "/v1/platform/scopes", `{"name":"cases:read","description":"Read cases.\n\tIncludes attachments. Zoë, café, 日本 😀"}`)
		if r.Status != http.StatusCreated {
			t.Fatalf("%s", r)
		}
		if r := a.in(t).call(http.MethodDelete, "/v1/platform/scopes/cases:read", nil); r.Status != http.StatusNoContent {
			t.Fatalf("delete: %s", r)
		}
	})
	app2 := a.call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil)
	if app2.Status != http.StatusOK || !strings.Contains(string(app2.Body), `"version":1`) {
		t.Fatalf("the refused PATCHes changed the app: %s", app2)
	}
	a.call(http.MethodDelete, "/v1/platform/apps/"+app.ID, nil)
	if after := read(); after != before {
		t.Fatalf("refused requests changed the state:\nbefore %s\nafter  %s", before, after)
	}
}

// TestSecretAnswersNotCached: the answers that carry a secret or a token
// say Cache-Control: no-store and Pragma: no-cache through the real
// binary, a replayed one and the token endpoint's errors included
// (server TestSecretAnswersAreNoStore covers every such route).
func TestSecretAnswersNotCached(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	noStore := func(what string, r reply) {
		t.Helper()
		if cc, pr := r.Header.Get("Cache-Control"), r.Header.Get("Pragma"); cc != "no-store" || pr != "no-cache" {
			t.Errorf("%s (%d): Cache-Control %q, Pragma %q", what, r.Status, cc, pr)
		}
	}
	noStore("token", a.form("/v1/oauth/token", url.Values{"grant_type": {"client_credentials"}}, adminID, adminSecret))
	noStore("token error", a.form("/v1/oauth/token", url.Values{"grant_type": {"client_credentials"}}, adminID, "wrong"))
	key := "no-store-" + uniqueName(t, "k")
	body := map[string]any{"name": uniqueName(t, "no-store")}
	first := a.call(http.MethodPost, "/v1/platform/apps", body, "Idempotency-Key", key)
	replay := a.call(http.MethodPost, "/v1/platform/apps", body, "Idempotency-Key", key)
	if first.Status != http.StatusCreated || replay.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("create %s, replay %s", first, replay)
	}
	noStore("app create", first)
	noStore("app create replayed", replay)
	if r := a.call(http.MethodGet, "/v1/platform/apps?limit=1", nil); r.Header.Get("Pragma") != "" {
		t.Errorf("a list answer says Pragma %q", r.Header.Get("Pragma"))
	}
}
