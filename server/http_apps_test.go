package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestHTTPApps walks an app through create, get, list, patch (a stale
// If-Match is 412), secret rotation and delete.
func TestHTTPApps(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	wantProblem(t, s.Do(http.MethodPost, "/v1/platform/apps", "", map[string]any{"name": "x"}), http.StatusUnauthorized, "unauthorized")

	a := createApp(t, s, admin, map[string]any{"name": "billing", "metadata": map[string]any{"team": "a"}})
	if a.Name != "billing" || !slices.Equal(a.GrantTypes, []string{"client_credentials"}) || !a.Active || a.Metadata["team"] != "a" || a.Version < 1 {
		t.Fatalf("created %+v", a)
	}
	wantProblem(t, s.Do(http.MethodPost, "/v1/platform/apps", admin, map[string]any{"name": "billing"}), http.StatusConflict, "conflict")
	p := wantProblem(t, s.Do(http.MethodPost, "/v1/platform/apps", admin, map[string]any{"name": ""}), http.StatusBadRequest, "validation_error")
	if len(p.Errors) == 0 || p.Errors[0].Field != "name" {
		t.Fatalf("validation errors %+v, want one naming name", p.Errors)
	}

	one := "/v1/platform/apps/" + a.ID
	r := want(t, s.Do(http.MethodGet, one, admin, nil), http.StatusOK)
	var got app
	r.JSON(t, &got)
	if got.ID != a.ID || got.ClientSecret != "" || r.Header.Get("ETag") != etag(got.Version) || len(got.Secrets) != 1 {
		t.Fatalf("get: %+v ETag %q (a get never shows the secret; one secret listed)", got, r.Header.Get("ETag"))
	}
	wantProblem(t, s.Do(http.MethodGet, "/v1/platform/apps/app_missing", admin, nil), http.StatusNotFound, "not_found")

	var list struct {
		Items      []app  `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	want(t, s.Do(http.MethodGet, "/v1/platform/apps?limit=1", admin, nil), http.StatusOK).JSON(t, &list)
	if len(list.Items) != 1 || list.NextCursor == "" { // the admin app and billing: two pages of one
		t.Fatalf("list limit=1: %d items, next_cursor %q", len(list.Items), list.NextCursor)
	}
	list.Items, list.NextCursor = nil, ""
	want(t, s.Do(http.MethodGet, "/v1/platform/apps?limit=500", admin, nil), http.StatusOK).JSON(t, &list)
	if !slices.ContainsFunc(list.Items, func(x app) bool { return x.ID == a.ID }) || list.NextCursor != "" {
		t.Fatalf("list: %+v lacks %s or has a next page", list, a.ID)
	}

	wantProblem(t, s.Do(http.MethodPatch, one, admin, map[string]any{"name": "renamed"}, "If-Match", etag(got.Version+7)), http.StatusPreconditionFailed, "precondition_failed")
	var patched app
	r = want(t, s.Do(http.MethodPatch, one, admin, map[string]any{"name": "renamed"}, "If-Match", etag(got.Version)), http.StatusOK)
	r.JSON(t, &patched)
	if patched.Name != "renamed" || patched.Version <= got.Version || r.Header.Get("ETag") != etag(patched.Version) {
		t.Fatalf("patch: %+v ETag %q, want renamed at a later version", patched, r.Header.Get("ETag"))
	}

	// Rotation without grace: the new secret mints, the old one stops.
	var rot struct {
		ID                string  `json:"id"`
		ClientSecret      string  `json:"client_secret"`
		PreviousExpiresAt *string `json:"previous_expires_at"`
	}
	want(t, s.Do(http.MethodPost, one+"/secrets", admin, map[string]any{"grace_period_seconds": 0}), http.StatusCreated).JSON(t, &rot)
	if rot.ID == "" || rot.ClientSecret == "" || rot.ClientSecret == a.ClientSecret {
		t.Fatalf("rotation answered %+v", rot)
	}
	s.TokenFor(a.ClientID, rot.ClientSecret)
	old := s.Form("/v1/oauth/token", a.ClientID, a.ClientSecret, url.Values{"grant_type": {"client_credentials"}})
	if old.Status != http.StatusUnauthorized {
		t.Fatalf("the rotated-out secret still mints: %d %s", old.Status, old.Body)
	}

	tok := s.TokenFor(a.ClientID, rot.ClientSecret)
	wantProblem(t, s.Do(http.MethodDelete, one, admin, nil, "If-Match", etag(1)), http.StatusPreconditionFailed, "precondition_failed")
	want(t, s.Do(http.MethodDelete, one, admin, nil), http.StatusNoContent)
	wantProblem(t, s.Do(http.MethodGet, one, admin, nil), http.StatusNotFound, "not_found")
	wantProblem(t, s.Do(http.MethodDelete, one, admin, nil), http.StatusNotFound, "not_found")
	var intro struct {
		Active bool `json:"active"`
	}
	want(t, s.Form("/v1/oauth/introspect", s.AdminID, s.AdminSecret, url.Values{"token": {tok}}), http.StatusOK).JSON(t, &intro)
	if intro.Active {
		t.Fatal("a deleted app's token is still active")
	}
}
