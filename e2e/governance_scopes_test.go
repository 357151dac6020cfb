package e2e

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
)

// catalogEntry is a scope or an event type of a catalog answer.
type catalogEntry struct {
	Name              string `json:"name"`
	Description       string `json:"description"`
	RequiresApproval  bool   `json:"requires_approval"`
	ApprovalsRequired int    `json:"approvals_required"`
	Scope             string `json:"scope"`
	BuiltIn           bool   `json:"built_in"`
	Version           uint64 `json:"version"`
}

// catalogPages reads a whole catalog list (path: /v1/platform/scopes or
// /v1/platform/event-types), limit entries a page (0: the default), and
// returns its entries and the sizes of its pages.
func (a *api) catalogPages(path string, limit int) ([]catalogEntry, []int) {
	a.t.Helper()
	var all []catalogEntry
	var sizes []int
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	for range 1000 {
		r := a.call(http.MethodGet, path+"?"+q.Encode(), nil)
		if r.Status != http.StatusOK {
			a.t.Fatalf("GET %s?%s: %s", path, q.Encode(), r)
		}
		var page struct {
			Items      []catalogEntry `json:"items"`
			NextCursor *string        `json:"next_cursor"`
		}
		r.decode(a.t, &page)
		all, sizes = append(all, page.Items...), append(sizes, len(page.Items))
		if page.NextCursor == nil {
			return all, sizes
		}
		if *page.NextCursor == "" || len(page.Items) == 0 {
			a.t.Fatalf("GET %s: an empty next_cursor or an empty page before the last: %s", path, r)
		}
		q.Set("cursor", *page.NextCursor)
	}
	a.t.Fatalf("GET %s: more than 1000 pages", path)
	return nil, nil
}

// catalogNames reads a whole catalog list and returns its names.
func (a *api) catalogNames(path string) []string {
	a.t.Helper()
	entries, _ := a.catalogPages(path, 500)
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name
	}
	return names
}

// freshTenant creates a tenant and returns its admin's API.
func freshTenant(t *testing.T, s *server, name string) *api {
	t.Helper()
	r := adminAPI(t, s).call(http.MethodPost, "/v1/tenants", map[string]any{"name": uniqueName(t, name)})
	if r.Status != http.StatusCreated {
		t.Fatalf("create tenant: %s", r)
	}
	var ten tenantCreated
	r.decode(t, &ten)
	a := newAPI(t, s, "")
	a.admin = credentials{ten.AdminApp.ClientID, ten.AdminApp.ClientSecret, oauth2.AuthStyleInHeader}
	return a.as(a.mint(a.admin).AccessToken)
}

// entry reads one catalog entry; it must exist. It checks that the ETag
// names the entry's version.
func (a *api) entry(path string) catalogEntry {
	a.t.Helper()
	r := a.call(http.MethodGet, path, nil)
	if r.Status != http.StatusOK {
		a.t.Fatalf("GET %s: %s", path, r)
	}
	var e catalogEntry
	r.decode(a.t, &e)
	if want := fmt.Sprintf(`"%d"`, e.Version); e.Version == 0 || r.Header.Get("ETag") != want {
		a.t.Errorf("GET %s: ETag %q, version %d", path, r.Header.Get("ETag"), e.Version)
	}
	return e
}

// TestCatalogPaging: the catalogs page like every list, the built-in
// entries first, then the tenant's own by name, whatever the page size.
func TestCatalogPaging(t *testing.T) {
	t.Parallel()
	a := freshTenant(t, shared(t), "paged")
	// Only built-ins: one page of exactly their number has no next page.
	if got, sizes := a.catalogPages("/v1/platform/scopes", len(builtinScopes)); len(got) != len(builtinScopes) || len(sizes) != 1 {
		t.Fatalf("built-ins only, pages of %d: %d entries in pages %v", len(builtinScopes), len(got), sizes)
	}
	for _, n := range []string{"zeta:read", "alpha:read", "mid:read"} {
		a.defineScope(map[string]any{"name": n})
	}
	// The built-ins first, in whatever order the server keeps them (the
	// same on every page size), then the tenant's own by name.
	own := []string{"alpha:read", "mid:read", "zeta:read"}
	var first []string
	for _, limit := range []int{0, 1, 5, len(builtinScopes), len(builtinScopes) + 1, 500} {
		got, sizes := a.catalogPages("/v1/platform/scopes", limit)
		var names []string
		for _, e := range got {
			names = append(names, e.Name)
			if e.BuiltIn != slices.Contains(builtinScopes, e.Name) || e.Version == 0 {
				t.Errorf("limit %d: entry %+v", limit, e)
			}
		}
		n := len(builtinScopes)
		if len(names) != n+len(own) || !sameSet(names[:n], builtinScopes) || !slices.Equal(names[n:], own) {
			t.Errorf("limit %d: scopes %v, want the built-ins %v (any order) then %v", limit, names, builtinScopes, own)
		} else if first == nil {
			first = names
		} else if !slices.Equal(names, first) {
			t.Errorf("limit %d: scopes %v, in another order than %v", limit, names, first)
		}
		per := limit
		if per == 0 {
			per = 50 // the default
		}
		if slices.Max(sizes) > per || len(sizes) != (len(builtinScopes)+len(own)+per-1)/per {
			t.Errorf("limit %d: page sizes %v", limit, sizes)
		}
	}

	a.defineScope(map[string]any{"name": "cases:read"})
	for _, n := range []string{"case.b", "case.a"} {
		if r := a.call(http.MethodPost, "/v1/platform/event-types", map[string]any{"name": n, "scope": "cases:read"}); r.Status != http.StatusCreated {
			t.Fatalf("event type %s: %s", n, r)
		}
	}
	types, _ := a.catalogPages("/v1/platform/event-types", 4)
	// API.md's built-in event types first (any order), then the
	// tenant's by name.
	builtinTypes := map[string]string{"app.created": "platform:apps:read", "app.updated": "platform:apps:read", "app.deleted": "platform:apps:read",
		"app.secret.rotated": "platform:apps:read", "app.scope.approved": "platform:apps:read", "app.scope.rejected": "platform:apps:read",
		"app.scope.revoked": "platform:apps:read", "webhook.disabled": "platform:apps:read", "webhook.test": "webhooks:write",
		"user.created": "platform:users:read", "user.updated": "platform:users:read", "user.disabled": "platform:users:read",
		"user.enabled": "platform:users:read", "user.deleted": "platform:users:read",
		"credential.refresh_failed": "credentials:read", "credential.revoked": "credentials:read", "credential.expiring": "credentials:read"}
	if len(types) != len(builtinTypes)+2 {
		t.Fatalf("event types paged by 4: %+v, want the %d built-ins and 2", types, len(builtinTypes))
	}
	seen := map[string]bool{}
	for _, e := range types[:len(builtinTypes)] {
		if scope, ok := builtinTypes[e.Name]; !ok || seen[e.Name] || !e.BuiltIn || e.Scope != scope {
			t.Errorf("built-in event type %+v, want one of %v once, built in, with its scope", e, builtinTypes)
		}
		seen[e.Name] = true
	}
	for i, name := range []string{"case.a", "case.b"} {
		if e := types[len(builtinTypes)+i]; e.Name != name || e.BuiltIn || e.Scope != "cases:read" {
			t.Errorf("event type %d: %+v, want %s of cases:read", len(builtinTypes)+i, e, name)
		}
	}
	wantProblem(t, a.call(http.MethodGet, "/v1/platform/scopes?cursor=bm9wZQ", nil), http.StatusBadRequest, "validation_error")
	wantProblem(t, a.call(http.MethodGet, "/v1/platform/event-types?limit=501", nil), http.StatusBadRequest, "validation_error")
}

// TestCatalogEntries: one entry read, changed and removed, with ETags and
// If-Match; a changed approval rule governs the decisions after it.
func TestCatalogEntries(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	name := scopeName("tickets")
	one := "/v1/platform/scopes/" + name
	a.defineScope(map[string]any{"name": name, "description": "Read tickets"})

	// Any token of the tenant reads an entry; ':' as is or encoded.
	bare := a.as(a.mint(appCreds(a.createApp(map[string]any{"name": uniqueName(t, "bare")}))).AccessToken)
	e := bare.entry(one)
	if e.Name != name || e.Description != "Read tickets" || !e.RequiresApproval || e.ApprovalsRequired != 1 || e.BuiltIn || e.Version != 1 {
		t.Errorf("GET %s = %+v", one, e)
	}
	if got := bare.entry("/v1/platform/scopes/" + strings.ReplaceAll(name, ":", "%3A")); got != e {
		t.Errorf("percent-encoded name reads %+v, want %+v", got, e)
	}
	if b := bare.entry("/v1/platform/scopes/platform:apps:read"); !b.BuiltIn || b.Version != 1 || b.ApprovalsRequired != 1 {
		t.Errorf("built-in entry = %+v", b)
	}
	wantProblem(t, bare.call(http.MethodGet, "/v1/platform/scopes/missing:"+name, nil), http.StatusNotFound, "not_found")
	wantProblem(t, bare.call(http.MethodPatch, one, map[string]any{"approvals_required": 2}), http.StatusForbidden, "insufficient_scope")

	// PATCH: validated, If-Match honoured, a no-op changes nothing.
	p := wantProblem(t, a.call(http.MethodPatch, one, map[string]any{"approvals_required": 11, "description": strings.Repeat("x", 1001)}), http.StatusBadRequest, "validation_error")
	if !equalStrings(p.fields(), "description", "approvals_required") {
		t.Errorf("invalid patch fields = %v", p.fields())
	}
	wantProblem(t, a.call(http.MethodPatch, one, map[string]any{"name": "other:name"}), http.StatusBadRequest, "validation_error")
	wantProblem(t, a.call(http.MethodPatch, "/v1/platform/scopes/platform:apps:read", map[string]any{"approvals_required": 2}), http.StatusConflict, "conflict")
	wantProblem(t, a.call(http.MethodPatch, one, map[string]any{"approvals_required": 2}, "If-Match", `"7"`), http.StatusPreconditionFailed, "precondition_failed")
	r := a.call(http.MethodPatch, one, map[string]any{"approvals_required": 2, "description": "Read support tickets"}, "If-Match", `"1"`)
	if r.Status != http.StatusOK || r.Header.Get("ETag") != `"2"` {
		t.Fatalf("PATCH: %s (ETag %q)", r, r.Header.Get("ETag"))
	}
	if e := a.entry(one); e.ApprovalsRequired != 2 || e.Description != "Read support tickets" || e.Version != 2 {
		t.Errorf("after PATCH: %+v", e)
	}
	if r := a.call(http.MethodPatch, one, map[string]any{"approvals_required": 2}); r.Status != http.StatusOK || r.Header.Get("ETag") != `"2"` {
		t.Errorf("a PATCH changing nothing: %s (ETag %q), want 200 at version 2", r, r.Header.Get("ETag"))
	}

	// The new rule governs decisions made after it.
	app := a.createApp(map[string]any{"name": uniqueName(t, "app"), "requested_scopes": []string{name}})
	if got := a.decide(app.ID, name, "approve", "")[name]; got.Status != "pending" || len(got.Approvals) != 1 {
		t.Errorf("one approval of a scope needing two: %+v", got)
	}
	if r := a.call(http.MethodPatch, one, map[string]any{"requires_approval": false}); r.Status != http.StatusOK {
		t.Fatalf("PATCH requires_approval: %s", r)
	}
	open := a.createApp(map[string]any{"name": uniqueName(t, "open"), "requested_scopes": []string{name}})
	if got := open.scopeStatus()[name]; got != "approved" {
		t.Errorf("a request after requires_approval false is %s, want approved", got)
	}

	// DELETE with If-Match; a new definition of the name continues the
	// version, so an old ETag never matches it.
	wantProblem(t, a.call(http.MethodDelete, one, nil, "If-Match", `"2"`), http.StatusPreconditionFailed, "precondition_failed")
	if r := a.call(http.MethodDelete, one, nil, "If-Match", `"3"`); r.Status != http.StatusNoContent {
		t.Fatalf("DELETE: %s", r)
	}
	wantProblem(t, a.call(http.MethodGet, one, nil), http.StatusNotFound, "not_found")
	wantProblem(t, a.call(http.MethodPatch, one, map[string]any{"description": "x"}), http.StatusNotFound, "not_found")
	a.defineScope(map[string]any{"name": name})
	if e := a.entry(one); e.Version != 4 || e.Description != "" || e.ApprovalsRequired != 1 {
		t.Errorf("redefined entry = %+v, want version 4 with the defaults", e)
	}

	// Event types read one by one too.
	et := "ticket.opened_" + strings.ToLower(rand.Text()[:8])
	if r := a.call(http.MethodPost, "/v1/platform/event-types", map[string]any{"name": et, "description": "A ticket was opened", "scope": name}); r.Status != http.StatusCreated || r.Header.Get("ETag") != `"1"` {
		t.Fatalf("define event type: %s", r)
	}
	if e := bare.entry("/v1/platform/event-types/" + et); e.Scope != name || e.BuiltIn || e.Description != "A ticket was opened" {
		t.Errorf("event type = %+v", e)
	}
	if e := bare.entry("/v1/platform/event-types/webhook.test"); !e.BuiltIn || e.Scope != "webhooks:write" {
		t.Errorf("built-in event type = %+v", e)
	}
	wantProblem(t, a.call(http.MethodGet, "/v1/platform/event-types/missing."+et, nil), http.StatusNotFound, "not_found")
	wantProblem(t, a.call(http.MethodDelete, "/v1/platform/event-types/"+et, nil, "If-Match", `"2"`), http.StatusPreconditionFailed, "precondition_failed")
	if r := a.call(http.MethodDelete, "/v1/platform/event-types/"+et, nil, "If-Match", `"1"`); r.Status != http.StatusNoContent {
		t.Fatalf("DELETE event type: %s", r)
	}
}

// TestCatalogConcurrentDefinitions: of concurrent definitions of one name,
// exactly one is created; the others get 409 (uniqueness through the log).
func TestCatalogConcurrentDefinitions(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	scope := scopeName("race")
	et := "race.won_" + strings.ToLower(rand.Text()[:8])
	a.defineScope(map[string]any{"name": "x" + scope})
	for _, tc := range []struct {
		path string
		body map[string]any
	}{
		{"/v1/platform/scopes", map[string]any{"name": scope}},
		{"/v1/platform/event-types", map[string]any{"name": et, "scope": "x" + scope}},
	} {
		const n = 8
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r, err := a.try(http.MethodPost, tc.path, tc.body)
				if err != nil {
					t.Error(err)
					return
				}
				statuses[i] = r.Status
			})
		}
		wg.Wait()
		slices.Sort(statuses)
		want := append([]int{http.StatusCreated}, slices.Repeat([]int{http.StatusConflict}, n-1)...)
		if !slices.Equal(statuses, want) {
			t.Errorf("POST %s %d times at once: %v, want one 201 and 409s", tc.path, n, statuses)
		}
	}
}
