package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestAppsRejectBadRequests runs every rule of API.md "Apps" and
// "Conventions" that a request can break, on a server of its own, and
// checks that none of the bad requests changed anything: the list of apps
// is the same before and after.
func TestAppsRejectBadRequests(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	a := adminAPI(t, s)
	dup := a.createApp(map[string]any{"name": "Billing Sync"})
	coded := a.createApp(map[string]any{"name": "coded", "grant_types": []string{"authorization_code"}, "redirect_uris": []string{"https://app.example.com/cb"}})
	before := a.listAll(500)

	t.Run("create: each field rule", func(t *testing.T) {
		a := a.in(t)
		for _, tc := range createRules(t) {
			t.Run(tc.name, func(t *testing.T) {
				p := wantProblem(t, a.in(t).call(http.MethodPost, "/v1/platform/apps", tc.body), http.StatusBadRequest, "validation_error")
				if !sameSet(p.fields(), tc.fields) {
					t.Fatalf("errors[].field = %v (%+v), want %v", p.fields(), p.Errors, tc.fields)
				}
				for _, e := range p.Errors {
					if e.Message == "" {
						t.Errorf("field %s without a message", e.Field)
					}
					if tc.mention != "" && !strings.Contains(e.Message, tc.mention) {
						t.Errorf("message %q does not name %q", e.Message, tc.mention)
					}
				}
			})
		}
	})
	t.Run("create: malformed bodies", func(t *testing.T) {
		for _, body := range []string{"", "{", `{"name": "x"} {}`, `["name"]`, `"name"`, `{"name": "x",}`, "null"} {
			wantProblem(t, a.in(t).call(http.MethodPost, "/v1/platform/apps", body), http.StatusBadRequest, "validation_error")
		}
	})
	t.Run("patch: each field rule", func(t *testing.T) {
		for _, tc := range []struct {
			id    string
			body  any
			field string
		}{
			{dup.ID, map[string]any{"name": ""}, "name"},
			{dup.ID, map[string]any{"name": strings.Repeat("n", 101)}, "name"},
			{dup.ID, map[string]any{"access_token_ttl_seconds": 59}, "access_token_ttl_seconds"},
			{dup.ID, map[string]any{"grant_types": []string{}}, "grant_types"},
			{dup.ID, map[string]any{"redirect_uris": []string{"https://app.example.com/cb"}}, "redirect_uris"},
			{dup.ID, map[string]any{"metadata": "text"}, "metadata"},
			{dup.ID, map[string]any{"client_id": "mine"}, "client_id"},
			{dup.ID, map[string]any{"active": "no"}, "active"},
			{coded.ID, map[string]any{"redirect_uris": []string{"http://app.example.com/cb"}}, "redirect_uris"},
			{coded.ID, map[string]any{"redirect_uris": []string{}}, "redirect_uris"},
		} {
			p := wantProblem(t, a.in(t).call(http.MethodPatch, "/v1/platform/apps/"+tc.id, tc.body), http.StatusBadRequest, "validation_error")
			if !slices.Equal(p.fields(), []string{tc.field}) {
				t.Errorf("PATCH %v: errors[].field = %v, want [%s]", tc.body, p.fields(), tc.field)
			}
		}
	})
	t.Run("names are unique without case", func(t *testing.T) {
		a := a.in(t)
		for _, name := range []string{"Billing Sync", "billing sync", "BILLING SYNC"} {
			wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps", map[string]any{"name": name}), http.StatusConflict, "conflict")
			wantProblem(t, a.call(http.MethodPatch, "/v1/platform/apps/"+coded.ID, map[string]any{"name": name}), http.StatusConflict, "conflict")
		}
		wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps", map[string]any{"name": "ADMIN"}), http.StatusConflict, "conflict")
	})
	t.Run("body above 1 MiB", func(t *testing.T) {
		a := a.in(t)
		big := fmt.Sprintf(`{"name": "big", "metadata": {"k": %q}}`, strings.Repeat("x", 1<<20))
		wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps", big), http.StatusRequestEntityTooLarge, "payload_too_large")
		chunked := io.MultiReader(strings.NewReader(big)) // no length: sent chunked
		wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps", chunked), http.StatusRequestEntityTooLarge, "payload_too_large")
		wantProblem(t, a.call(http.MethodPatch, "/v1/platform/apps/"+dup.ID, big), http.StatusRequestEntityTooLarge, "payload_too_large")
	})
	t.Run("content type", func(t *testing.T) {
		a := a.in(t)
		body := `{"name": "typed"}`
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data; boundary=x"} {
			wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps", body, "Content-Type", ct), http.StatusUnsupportedMediaType, "unsupported_media_type")
			wantProblem(t, a.call(http.MethodPatch, "/v1/platform/apps/"+dup.ID, body, "Content-Type", ct), http.StatusUnsupportedMediaType, "unsupported_media_type")
		}
		req, _ := http.NewRequestWithContext(ctx(t), http.MethodPost, s.URL+"/v1/platform/apps", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+a.token) // no Content-Type at all
		wantProblem(t, a.send(req), http.StatusUnsupportedMediaType, "unsupported_media_type")
	})
	t.Run("stale If-Match", func(t *testing.T) {
		a := a.in(t)
		stale := fmt.Sprintf(`"%d"`, dup.Version+1)
		wantProblem(t, a.call(http.MethodPatch, "/v1/platform/apps/"+dup.ID, map[string]any{"name": "renamed"}, "If-Match", stale), http.StatusPreconditionFailed, "precondition_failed")
		wantProblem(t, a.call(http.MethodDelete, "/v1/platform/apps/"+dup.ID, nil, "If-Match", stale), http.StatusPreconditionFailed, "precondition_failed")
	})
	t.Run("bad list parameters", func(t *testing.T) {
		a := a.in(t)
		// An empty limit is an absent one (API.md "Lists": default 50):
		// the same 200 as no parameter.
		empty, none := a.call(http.MethodGet, "/v1/platform/apps?limit=", nil), a.call(http.MethodGet, "/v1/platform/apps", nil)
		if empty.Status != http.StatusOK || string(empty.Body) != string(none.Body) {
			t.Errorf("?limit= answered %s, want 200 with the default page %s", empty, none)
		}
		for _, q := range []string{"limit=0", "limit=-1", "limit=501", "limit=abc", "limit=1.5", "cursor=garbage", "cursor=" + url.QueryEscape("!!!"), "cursor=AQ"} {
			r := a.call(http.MethodGet, "/v1/platform/apps?"+q, nil)
			p := wantProblem(t, r, http.StatusBadRequest, "validation_error")
			if field := strings.SplitN(q, "=", 2)[0]; !slices.Equal(p.fields(), []string{field}) {
				t.Errorf("?%s: errors[].field = %v, want [%s]", q, p.fields(), field)
			}
		}
	})
	t.Run("unknown app", func(t *testing.T) {
		a := a.in(t)
		wantProblem(t, a.call(http.MethodPatch, "/v1/platform/apps/app_nope", map[string]any{"active": false}), http.StatusNotFound, "not_found")
		wantProblem(t, a.call(http.MethodDelete, "/v1/platform/apps/app_nope", nil), http.StatusNotFound, "not_found")
	})

	after := a.listAll(500)
	if !sameJSON(t, mustJSON(t, after), before) {
		t.Fatalf("bad requests changed the apps:\nbefore %s\nafter  %s", mustJSON(t, before), mustJSON(t, after))
	}

	t.Run("pagination", func(t *testing.T) {
		a := a.in(t)
		for i := range 3 {
			a.createApp(map[string]any{"name": fmt.Sprintf("page-%d", i)})
		}
		all := a.listAll(500)
		if len(all) != 6 { // admin, Billing Sync, coded, page-0..2
			t.Fatalf("%d apps, want 6", len(all))
		}
		for i := 1; i < len(all); i++ {
			if all[i].CreatedAt.Before(all[i-1].CreatedAt) {
				t.Errorf("not oldest first: %s before %s", all[i-1].Name, all[i].Name)
			}
		}
		var pages [][]string
		cursor := ""
		for {
			r := a.call(http.MethodGet, "/v1/platform/apps?limit=2&cursor="+url.QueryEscape(cursor), nil)
			var page appList
			r.decode(t, &page)
			var names []string
			for _, app := range page.Items {
				names = append(names, app.Name)
			}
			pages = append(pages, names)
			if page.NextCursor == nil {
				break
			}
			if bytes.Contains(r.Body, []byte(`"next_cursor":""`)) || len(pages) > 10 {
				t.Fatalf("page %d: %s", len(pages), r.Body)
			}
			cursor = *page.NextCursor
		}
		var want [][]string
		for i := 0; i < len(all); i += 2 {
			want = append(want, []string{all[i].Name, all[i+1].Name})
		}
		if fmt.Sprint(pages) != fmt.Sprint(want) {
			t.Fatalf("pages of 2 = %v, want %v", pages, want)
		}
		var page appList
		a.call(http.MethodGet, "/v1/platform/apps", nil).decode(t, &page)
		if len(page.Items) != 6 || page.NextCursor != nil {
			t.Fatalf("default limit: %d items, next_cursor %v", len(page.Items), page.NextCursor)
		}
	})
}

// createRule is a create body that breaks a rule, and the fields its 400
// must name.
type createRule struct {
	name    string
	body    any
	fields  []string
	mention string // a text every message must contain
}

func createRules(t *testing.T) []createRule {
	cc := []string{"client_credentials"}
	code := []string{"authorization_code"}
	redirect := func(uri string) map[string]any {
		return map[string]any{"name": "r", "grant_types": code, "redirect_uris": []string{uri}}
	}
	return []createRule{
		{"name missing", map[string]any{}, []string{"name"}, ""},
		{"name empty", map[string]any{"name": ""}, []string{"name"}, ""},
		{"name blank", map[string]any{"name": "   "}, []string{"name"}, ""},
		{"name of 101 characters", map[string]any{"name": strings.Repeat("é", 101)}, []string{"name"}, ""},
		{"name not a string", map[string]any{"name": 5}, []string{"name"}, ""},
		{"unknown field", map[string]any{"name": "x", "colour": "red"}, []string{"colour"}, ""},
		{"client_secret is not settable", map[string]any{"name": "x", "client_secret": "mine"}, []string{"client_secret"}, ""},
		{"no grant type", map[string]any{"name": "x", "grant_types": []string{}}, []string{"grant_types"}, ""},
		{"unknown grant type", map[string]any{"name": "x", "grant_types": []string{"password"}}, []string{"grant_types"}, "password"},
		{"grant type twice", map[string]any{"name": "x", "grant_types": []string{"client_credentials", "client_credentials"}}, []string{"grant_types"}, ""},
		{"refresh_token alone", map[string]any{"name": "x", "grant_types": []string{"refresh_token"}}, []string{"grant_types"}, ""},
		{"code flow without redirect_uris", map[string]any{"name": "x", "grant_types": code}, []string{"redirect_uris"}, ""},
		{"redirect_uris without the code flow", map[string]any{"name": "x", "grant_types": cc, "redirect_uris": []string{"https://app.example.com/cb"}}, []string{"redirect_uris"}, ""},
		{"http redirect on a public host", redirect("http://app.example.com/cb"), []string{"redirect_uris"}, ""},
		{"http redirect on a look-alike of localhost", redirect("http://localhost.example.com/cb"), []string{"redirect_uris"}, ""},
		{"redirect with a fragment", redirect("https://app.example.com/cb#top"), []string{"redirect_uris"}, ""},
		{"redirect with an empty fragment", redirect("https://app.example.com/cb#"), []string{"redirect_uris"}, ""},
		{"relative redirect", redirect("/cb"), []string{"redirect_uris"}, ""},
		{"redirect without scheme", redirect("app.example.com/cb"), []string{"redirect_uris"}, ""},
		{"redirect of another scheme", redirect("ftp://app.example.com/cb"), []string{"redirect_uris"}, ""},
		{"unknown requested scope", map[string]any{"name": "x", "requested_scopes": []string{"platform:apps:read", "cases:read"}}, []string{"requested_scopes"}, "cases:read"},
		{"unknown auth method", map[string]any{"name": "x", "token_endpoint_auth_method": "magic"}, []string{"token_endpoint_auth_method"}, ""},
		{"public client with client_credentials", map[string]any{"name": "x", "token_endpoint_auth_method": "none"}, []string{"token_endpoint_auth_method"}, ""},
		{"private_key_jwt without jwks", map[string]any{"name": "x", "token_endpoint_auth_method": "private_key_jwt"}, []string{"jwks"}, ""},
		{"jwks of no keys", map[string]any{"name": "x", "token_endpoint_auth_method": "private_key_jwt", "jwks": map[string]any{"keys": []any{}}}, []string{"jwks"}, ""},
		{"jwks with a private key", map[string]any{"name": "x", "token_endpoint_auth_method": "private_key_jwt", "jwks": privateJWKS(t)}, []string{"jwks"}, ""},
		{"ttl below 60", map[string]any{"name": "x", "access_token_ttl_seconds": 59}, []string{"access_token_ttl_seconds"}, ""},
		{"ttl above 86400", map[string]any{"name": "x", "access_token_ttl_seconds": 86401}, []string{"access_token_ttl_seconds"}, ""},
		{"ttl zero", map[string]any{"name": "x", "access_token_ttl_seconds": 0}, []string{"access_token_ttl_seconds"}, ""},
		{"ttl not an integer", map[string]any{"name": "x", "access_token_ttl_seconds": 90.5}, []string{"access_token_ttl_seconds"}, ""},
		{"metadata above 16 KiB", map[string]any{"name": "x", "metadata": map[string]any{"k": strings.Repeat("m", 16<<10)}}, []string{"metadata"}, ""},
		{"metadata not an object", map[string]any{"name": "x", "metadata": []int{1}}, []string{"metadata"}, ""},
		{"several fields at once", map[string]any{"name": "", "access_token_ttl_seconds": 1, "grant_types": []string{"implicit"}},
			[]string{"name", "grant_types", "access_token_ttl_seconds"}, ""},
	}
}

// privateJWKS is publicJWKS with the private key in it.
func privateJWKS(t *testing.T) map[string]any {
	set := publicJWKS(t)
	key := set["keys"].([]any)[0].(map[string]any)
	key["d"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	return set
}
