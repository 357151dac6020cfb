package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// headerSeen records, per request path, the header the upstream API got
// the token in.
type headerSeen struct {
	mu   sync.Mutex
	seen map[string]http.Header
}

func (h *headerSeen) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.seen[r.URL.Path] = r.Header.Clone()
		h.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path})
	})
}

func (h *headerSeen) get(path string) http.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen[path]
}

// TestHTTPProxyPerUserCredentials (API.md "Use", issue 16 "per-user
// credentials"): credentials owned by two users share a name; a user's
// delegated token naming it selects that user's own (each with its own
// provider token), the app's own token and the other user's token are
// refused on an owned one, and a name no user owns falls back to the
// tenant's credential. A header template puts the token where the
// credential says. Bad header templates and owners are 400 and change
// nothing.
func TestHTTPProxyPerUserCredentials(t *testing.T) {
	up := servertest.New(t)
	provider := createApp(t, up, up.Token(), map[string]any{"name": "provider-client"})
	seen := &headerSeen{seen: map[string]http.Header{}}
	api := httptest.NewServer(seen.handler())
	t.Cleanup(api.Close)

	s := servertest.New(t)
	admin := s.Token()
	app := createApp(t, s, admin, map[string]any{"name": "integrator", "requested_scopes": []string{"credentials:use"}})
	decide(t, s, admin, app.ID, "credentials:use", "approve")
	ada := createUser(t, s, admin, "ada@example.com")
	bob := createUser(t, s, admin, "bob@example.com")
	create := func(name, owner, template, path string) credential {
		t.Helper()
		body := map[string]any{"name": name, "provider": "custom", "grant_type": "client_credentials", "client_id": provider.ClientID,
			"client_secret": provider.ClientSecret, "token_url": up.URL + "/v1/oauth/token", "scopes": []string{},
			"base_url": api.URL + path, "grants": []string{app.ID}}
		if owner != "" {
			body["owner_user_id"] = owner
		}
		if template != "" {
			body["header_template"] = template
		}
		var c credential
		want(t, s.Do(http.MethodPost, "/v1/credentials", admin, body), http.StatusCreated).JSON(t, &c)
		return c
	}

	// Refused input.
	p := wantProblem(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": "bad", "provider": "custom",
		"grant_type": "client_credentials", "client_id": "x", "client_secret": "y", "token_url": up.URL + "/v1/oauth/token",
		"header_template": "Host: {token}", "owner_user_id": "usr_nobody"}), http.StatusBadRequest, "validation_error")
	if !strings.Contains(string(must(json.Marshal(p))), "header_template") || !strings.Contains(string(must(json.Marshal(p))), "owner_user_id") {
		t.Fatalf("problem %+v", p)
	}
	for _, tmpl := range []string{"Authorization: Bearer", "X-Key {token}", "X-Key: {token}{token}", "Bad Name: {token}", "Cookie: {token}"} {
		wantProblem(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": "bad", "provider": "custom",
			"grant_type": "client_credentials", "client_id": "x", "client_secret": "y", "token_url": up.URL + "/v1/oauth/token",
			"header_template": tmpl}), http.StatusBadRequest, "validation_error")
	}

	shared := create("crm", "", "", "/shared")
	adas := create("crm", ada.ID, "X-Api-Key: token={token}", "/ada")
	bobs := create("crm", bob.ID, "", "/bob")
	// A second of Ada's with the same name is a conflict; the tenant's
	// name is taken for the tenant, not for the users.
	wantProblem(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": "crm", "provider": "custom",
		"grant_type": "client_credentials", "client_id": provider.ClientID, "client_secret": provider.ClientSecret,
		"token_url": up.URL + "/v1/oauth/token", "scopes": []string{}, "owner_user_id": ada.ID}), http.StatusConflict, "conflict")
	var raw map[string]any
	want(t, s.Do(http.MethodGet, "/v1/credentials/"+adas.ID, admin, nil), http.StatusOK).JSON(t, &raw)
	if raw["owner_user_id"] != ada.ID || raw["header_template"] != "X-Api-Key: token={token}" {
		t.Fatalf("Ada's credential %v", raw)
	}

	appOwn := s.TokenFor(app.ClientID, app.ClientSecret)
	adaTok := s.UserToken(app.ClientID, ada.ID, "credentials:use")
	bobTok := s.UserToken(app.ClientID, bob.ID, "credentials:use")

	// By name: each user gets their own; the app's own token the tenant's.
	want(t, s.Do(http.MethodGet, "/v1/proxy/crm/x", adaTok, nil), http.StatusOK)
	want(t, s.Do(http.MethodGet, "/v1/proxy/crm/x", bobTok, nil), http.StatusOK)
	want(t, s.Do(http.MethodGet, "/v1/proxy/crm/x", appOwn, nil), http.StatusOK)
	adaH, bobH, appH := seen.get("/ada/x"), seen.get("/bob/x"), seen.get("/shared/x")
	// Names are unique whatever their case, and found so.
	want(t, s.Do(http.MethodGet, "/v1/proxy/CRM/y", adaTok, nil), http.StatusOK)
	want(t, s.Do(http.MethodGet, "/v1/proxy/Crm/y", appOwn, nil), http.StatusOK)
	if seen.get("/ada/y") == nil || seen.get("/shared/y") == nil {
		t.Fatal("the name in another case did not reach the same credentials")
	}
	if adaH == nil || bobH == nil || appH == nil {
		t.Fatalf("upstream saw ada %v bob %v shared %v", adaH, bobH, appH)
	}
	if !strings.HasPrefix(adaH.Get("X-Api-Key"), "token=") || adaH.Get("Authorization") != "" {
		t.Fatalf("Ada's template: %v", adaH)
	}
	if !strings.HasPrefix(bobH.Get("Authorization"), "Bearer ") || bobH.Get("Authorization") == appH.Get("Authorization") ||
		strings.TrimPrefix(adaH.Get("X-Api-Key"), "token=") == strings.TrimPrefix(bobH.Get("Authorization"), "Bearer ") {
		t.Fatalf("each credential has its own token: ada %q bob %q shared %q", adaH.Get("X-Api-Key"), bobH.Get("Authorization"), appH.Get("Authorization"))
	}
	for _, tok := range []string{adaTok, bobTok, appOwn} {
		for _, h := range []http.Header{adaH, bobH, appH} {
			if strings.Contains(h.Get("Authorization")+h.Get("X-Api-Key"), tok) {
				t.Fatal("a Gatehouse token reached the upstream")
			}
		}
	}
	// By id: an owned credential only with its owner's token.
	want(t, s.Do(http.MethodGet, "/v1/proxy/"+adas.ID+"/y", adaTok, nil), http.StatusOK)
	wantProblem(t, s.Do(http.MethodGet, "/v1/proxy/"+adas.ID+"/y", bobTok, nil), http.StatusForbidden, "forbidden")
	wantProblem(t, s.Do(http.MethodGet, "/v1/proxy/"+bobs.ID+"/y", appOwn, nil), http.StatusForbidden, "forbidden")
	want(t, s.Do(http.MethodGet, "/v1/proxy/"+shared.ID+"/y", adaTok, nil), http.StatusOK)
	// Exchange of an owned credential: only the owner's subject token
	// (the credential is not exchangeable yet: refused for everyone).
	exchange := func(subject, resource string) servertest.Response {
		return s.Form("/v1/oauth/token", app.ClientID, app.ClientSecret, url.Values{
			"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {subject},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "resource": {resource}})
	}
	if r := exchange(adaTok, adas.ID); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "invalid_target") {
		t.Fatalf("not exchangeable: %d %s", r.Status, r.Body)
	}
	want(t, s.Do(http.MethodPatch, "/v1/credentials/"+adas.ID, admin, map[string]any{"exchangeable": true, "header_template": ""}), http.StatusOK)
	if r := exchange(adaTok, adas.ID); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"issued_token_type"`) {
		t.Fatalf("Ada's exchange: %d %s", r.Status, r.Body)
	}
	for _, subject := range []string{bobTok, appOwn} {
		if r := exchange(subject, adas.ID); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "invalid_target") {
			t.Fatalf("exchange of Ada's by another: %d %s", r.Status, r.Body)
		}
	}
	// The template reset to the default: Authorization again.
	want(t, s.Do(http.MethodGet, "/v1/proxy/"+adas.ID+"/z", adaTok, nil), http.StatusOK)
	if h := seen.get("/ada/z"); !strings.HasPrefix(h.Get("Authorization"), "Bearer ") || h.Get("X-Api-Key") != "" {
		t.Fatalf("default template after reset: %v", h)
	}
	// Deleting an owned credential frees its name for its owner.
	want(t, s.Do(http.MethodDelete, "/v1/credentials/"+adas.ID, admin, nil), http.StatusNoContent)
	create("crm", ada.ID, "", "/ada2")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
