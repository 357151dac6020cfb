package e2e

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// tenantCreated is the 201 answer of POST /v1/tenants.
type tenantCreated struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	AdminApp struct {
		ID           string `json:"id"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	} `json:"admin_app"`
}

// TestTenantIsolation: a tenant's token sees and changes only its own
// apps (another tenant's are 404, never 403), its tokens carry its tid,
// and introspection calls another tenant's tokens inactive.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	mine := a.createApp(map[string]any{"name": uniqueName(t, "app")})
	mineTok := a.mint(appCreds(mine)).AccessToken

	r := a.call(http.MethodPost, "/v1/tenants", map[string]any{"name": uniqueName(t, "acme")})
	if r.Status != http.StatusCreated {
		t.Fatalf("create tenant = %s", r)
	}
	var ten tenantCreated
	r.decode(t, &ten)
	wantProblem(t, a.call(http.MethodPost, "/v1/tenants", map[string]any{"name": strings.ToUpper(ten.Name)}), http.StatusConflict, "conflict")

	acme := credentials{ten.AdminApp.ClientID, ten.AdminApp.ClientSecret, oauth2.AuthStyleInHeader}
	b := newAPI(t, s, "")
	b.admin = acme
	tok := b.mint(acme)
	b.token = tok.AccessToken
	_, c := b.verifyJOSE(b.token)
	if c.Tenant != ten.ID || c.Tenant == "default" {
		t.Errorf("tid = %q, want the new tenant's id %q", c.Tenant, ten.ID)
	}
	var want []string
	for _, s := range builtinScopes {
		if !strings.HasPrefix(s, "system:") {
			want = append(want, s)
		}
	}
	if got := strings.Fields(tok.Extra("scope").(string)); !sameSet(got, want) {
		t.Errorf("the tenant admin's scopes = %v, want every platform:*, webhooks:* and events:publish", got)
	}

	apps := b.listAll(500)
	if len(apps) != 1 || apps[0].ID != ten.AdminApp.ID {
		t.Fatalf("the new tenant lists %s, want only its admin app", mustJSON(t, apps))
	}
	wantProblem(t, b.call(http.MethodGet, "/v1/platform/apps/"+mine.ID, nil), http.StatusNotFound, "not_found")
	wantProblem(t, b.call(http.MethodPatch, "/v1/platform/apps/"+mine.ID, map[string]any{"active": false}), http.StatusNotFound, "not_found")
	wantProblem(t, b.call(http.MethodDelete, "/v1/platform/apps/"+mine.ID, nil), http.StatusNotFound, "not_found")
	b.createApp(map[string]any{"name": mine.Name}) // names are unique per tenant

	if b.active(mineTok) {
		t.Error("a tenant's introspection calls another tenant's token active")
	}
	if a.active(b.token) {
		t.Error("the default tenant's introspection calls the new tenant's token active")
	}
	if r := (caller{bearer: b.token}).post(b, "/v1/oauth/revoke", url.Values{"token": {mineTok}}); r.Status >= 500 {
		t.Errorf("revoke another tenant's token = %s", r)
	}
	if !a.active(mineTok) {
		t.Fatal("a tenant revoked another tenant's token")
	}
	if got := a.call(http.MethodGet, "/v1/platform/apps/"+mine.ID, nil); !strings.Contains(string(got.Body), `"active":true`) {
		t.Fatalf("another tenant changed the app: %s", got)
	}

	wantProblem(t, b.call(http.MethodPost, "/v1/tenants", map[string]any{"name": "x" + rand.Text()}), http.StatusForbidden, "insufficient_scope")
	wantProblem(t, b.call(http.MethodPost, "/v1/platform/keys/rotate", nil), http.StatusForbidden, "insufficient_scope")
}

// TestIdempotentCreate: a repeated POST with the same Idempotency-Key and
// body answers the first status and body and creates nothing more; the
// key with another body is 422.
func TestIdempotentCreate(t *testing.T) {
	t.Parallel()
	a := adminAPI(t, shared(t))
	key := "e2e-" + rand.Text()
	body := map[string]any{"name": uniqueName(t, "app")}
	first := a.call(http.MethodPost, "/v1/platform/apps", body, "Idempotency-Key", key)
	if first.Status != http.StatusCreated {
		t.Fatalf("create = %s", first)
	}
	again := a.call(http.MethodPost, "/v1/platform/apps", body, "Idempotency-Key", key)
	if again.Status != first.Status || !sameJSON(t, again.Body, json.RawMessage(first.Body)) {
		t.Fatalf("the repeat answered %s, want the first answer %s", again, first)
	}
	n := 0
	for _, app := range a.listAll(500) {
		if app.Name == body["name"] {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d apps named %s after a repeated create, want 1", n, body["name"])
	}
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps", map[string]any{"name": uniqueName(t, "other")}, "Idempotency-Key", key),
		http.StatusUnprocessableEntity, "idempotency_key_reused")
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps", body, "Idempotency-Key", "e2e-"+rand.Text()), http.StatusConflict, "conflict")
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps", body, "Idempotency-Key", strings.Repeat("k", 256)), http.StatusBadRequest, "validation_error")
}
