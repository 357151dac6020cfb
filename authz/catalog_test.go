package authz

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

func fieldsOf(fe fieldErrs) []string {
	var out []string
	for _, e := range fe {
		out = append(out, e.Field)
	}
	return out
}

func TestScopeRequestRules(t *testing.T) {
	two, zero, eleven, no := 2, 0, 11, false
	for _, tc := range []struct {
		req  scopeRequest
		bad  []string
		want catalog.Scope
	}{
		{req: scopeRequest{Name: "cases:read"}, want: catalog.Scope{Name: "cases:read", RequiresApproval: true, ApprovalsRequired: 1}},
		{req: scopeRequest{Name: "a.b-c_d:e.f:g-1", Description: strings.Repeat("é", maxDescription), RequiresApproval: &no, ApprovalsRequired: &two},
			want: catalog.Scope{Name: "a.b-c_d:e.f:g-1", Description: strings.Repeat("é", maxDescription), ApprovalsRequired: 2}},
		{req: scopeRequest{Name: "x" + strings.Repeat("a", maxCatalogName-1)}, want: catalog.Scope{Name: "x" + strings.Repeat("a", maxCatalogName-1), RequiresApproval: true, ApprovalsRequired: 1}},
		{req: scopeRequest{}, bad: []string{"name"}},
		{req: scopeRequest{Name: "x" + strings.Repeat("a", maxCatalogName)}, bad: []string{"name"}},
		{req: scopeRequest{Name: "Cases:read"}, bad: []string{"name"}},
		{req: scopeRequest{Name: "1cases"}, bad: []string{"name"}},
		{req: scopeRequest{Name: "cases:"}, bad: []string{"name"}},
		{req: scopeRequest{Name: "cases::read"}, bad: []string{"name"}},
		{req: scopeRequest{Name: "cases read"}, bad: []string{"name"}},
		{req: scopeRequest{Name: "cases:read", Description: strings.Repeat("é", maxDescription+1)}, bad: []string{"description"}},
		{req: scopeRequest{Name: "cases:read", ApprovalsRequired: &zero}, bad: []string{"approvals_required"}},
		{req: scopeRequest{Name: "", ApprovalsRequired: &eleven}, bad: []string{"name", "approvals_required"}},
	} {
		t.Run(tc.req.Name, func(t *testing.T) {
			got, fe := tc.req.validate()
			if !slices.Equal(fieldsOf(fe), tc.bad) {
				t.Fatalf("invalid fields %v, want %v", fieldsOf(fe), tc.bad)
			}
			if tc.bad == nil && got != tc.want {
				t.Errorf("entry %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestEventTypeNameRule(t *testing.T) {
	for name, ok := range map[string]bool{
		"case.updated": true, "case.updated_2.v1": true, "a.b": true,
		"case": false, "Case.updated": false, "case..updated": false, "case.updated.": false,
		"case.Updated": false, "case-x.updated": false, "cases:read": false, "1case.x": false,
	} {
		var fe fieldErrs
		checkName(&fe, name, eventTypeNameRE, "")
		if (len(fe) == 0) != ok {
			t.Errorf("%q accepted = %v, want %v", name, len(fe) == 0, ok)
		}
	}
}

func TestScopePatchChanges(t *testing.T) {
	cur := projections.CatalogScope{Name: "cases:read", Description: "d", RequiresApproval: true, ApprovalsRequired: 1}
	d, yes, one, three := "d", true, 1, 3
	if _, changed := (scopePatchRequest{Description: &d, RequiresApproval: &yes, ApprovalsRequired: &one}).changes(cur); changed {
		t.Error("the current values are a change")
	}
	if _, changed := (scopePatchRequest{}).changes(cur); changed {
		t.Error("an empty patch is a change")
	}
	upd, changed := (scopePatchRequest{Description: &d, ApprovalsRequired: &three}).changes(cur)
	if !changed || upd.Name != "cases:read" || upd.Description != nil || upd.RequiresApproval != nil || *upd.ApprovalsRequired != 3 {
		t.Errorf("changes = %+v, %v; want approvals_required 3 alone", upd, changed)
	}
	zero, long := 0, strings.Repeat("x", maxDescription+1)
	if got := fieldsOf((scopePatchRequest{Description: &long, ApprovalsRequired: &zero}).validate()); !slices.Equal(got, []string{"description", "approvals_required"}) {
		t.Errorf("invalid patch fields = %v", got)
	}
}

func TestCatalogCursor(t *testing.T) {
	for _, tc := range []struct {
		raw   string
		start int
		after string
		ok    bool
	}{
		{"b3", 3, "", true}, {"b0", 0, "", true}, {"t", 12, "", true}, {"tXYZ", 12, "XYZ", true},
		{"b12", 0, "", false}, {"b-1", 0, "", false}, {"b03", 0, "", false}, {"bx", 0, "", false}, {"x", 0, "", false},
	} {
		start, after, ok := parseCatalogCursor(catalogCursor(tc.raw), 12)
		if ok != tc.ok || ok && (start != tc.start || after != tc.after) {
			t.Errorf("cursor %q = %d, %q, %v; want %d, %q, %v", tc.raw, start, after, ok, tc.start, tc.after, tc.ok)
		}
	}
	if _, _, ok := parseCatalogCursor("not base64!", 12); ok {
		t.Error("a malformed cursor is accepted")
	}
	if start, after, ok := parseCatalogCursor("", 12); !ok || start != 0 || after != "" {
		t.Error("no cursor is not the first page")
	}
}

// TestCatalogPage pages 3 built-ins and n tenant entries with every page
// size: every entry once, in order, pages full but the last, and no
// empty page.
func TestCatalogPage(t *testing.T) {
	builtins := []string{"b1", "b2", "b3"}
	for n := range 5 {
		tenant := make([]string, n)
		for i := range tenant {
			tenant[i] = fmt.Sprintf("t%d", i)
		}
		// list pages tenant like a projection list: the cursor is the
		// index of the last entry returned.
		list := func(p projections.Page) ([]string, string, error) {
			start := 0
			if p.After != "" {
				i, err := strconv.Atoi(p.After)
				if err != nil {
					return nil, "", projections.ErrInvalid
				}
				start = i + 1
			}
			end := min(start+p.Limit, len(tenant))
			next := ""
			if end < len(tenant) {
				next = strconv.Itoa(end - 1)
			}
			return tenant[start:end], next, nil
		}
		want := append(slices.Clone(builtins), tenant...)
		for limit := 1; limit <= len(want)+1; limit++ {
			var got []string
			pages, cursor := 0, ""
			for {
				page := getPage(t, fmt.Sprintf("/?limit=%d&cursor=%s", limit, cursor), builtins, list)
				pages++
				got = append(got, page.Items...)
				if page.NextCursor == "" {
					break
				}
				if len(page.Items) != limit || pages > len(want) {
					t.Fatalf("%d tenant entries, limit %d: page %d has %d entries", n, limit, pages, len(page.Items))
				}
				cursor = page.NextCursor
			}
			if !slices.Equal(got, want) || pages != max(1, (len(want)+limit-1)/limit) {
				t.Errorf("%d tenant entries, limit %d: %v in %d pages, want %v", n, limit, got, pages, want)
			}
		}
	}
	rec := servePage(t, "/?cursor="+catalogCursor("tnope"), builtins, func(projections.Page) ([]string, string, error) {
		return nil, "", projections.ErrInvalid
	})
	if rec.Code != http.StatusBadRequest {
		t.Errorf("a bad tenant cursor = %d", rec.Code)
	}
}

func servePage(t *testing.T, target string, builtins []string, list func(projections.Page) ([]string, string, error)) *httptest.ResponseRecorder {
	t.Helper()
	e := echo.New()
	rec := httptest.NewRecorder()
	c := e.NewContext(httptest.NewRequest(http.MethodGet, target, nil), rec)
	if err := catalogPage(c, builtins, list); err != nil {
		var p *httpapi.Problem
		if !errors.As(err, &p) {
			t.Fatalf("GET %s: %v", target, err)
		}
		rec.Code = p.Status
	}
	return rec
}

func getPage(t *testing.T, target string, builtins []string, list func(projections.Page) ([]string, string, error)) Page[string] {
	t.Helper()
	rec := servePage(t, target, builtins, list)
	var page Page[string]
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d", target, rec.Code)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
		t.Fatal(err)
	}
	return page
}

// project applies events to a memory store, as the projector would.
func project(t *testing.T, store *memory.Store, tenant string, payloads ...events.Payload) {
	t.Helper()
	for _, p := range payloads {
		var ref events.Ref
		switch p := p.(type) {
		case *events.ScopeDefined:
			ref = events.ScopeRef(tenant, p.Name)
		case *events.ScopeUpdated:
			ref = events.ScopeRef(tenant, p.Name)
		case *events.ScopeDeleted:
			ref = events.ScopeRef(tenant, p.Name)
		case *events.EventTypeDefined:
			ref = events.EventTypeRef(tenant, p.Name)
		}
		e, err := events.New(ref, events.Actor{Kind: events.ActorSystem, ID: "test"}, time.Now(), p)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := store.Checkpoint(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		e.Stream, e.Seq = events.Control, cp[events.Control]+1
		if err := store.Update(t.Context(), e.Stream, e.Seq, func(tx projections.Tx) error { return projections.Apply(tx, e) }); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCatalogVersionSurvivesDeletion: a name defined again continues the
// version of its deleted entry, so an old ETag never matches the new one.
func TestCatalogVersionSurvivesDeletion(t *testing.T) {
	store := memory.New()
	d := "changed"
	project(t, store, "acme",
		&events.ScopeDefined{Name: "cases:read", ApprovalsRequired: 1},
		&events.ScopeUpdated{Name: "cases:read", Description: &d},
		&events.ScopeDeleted{Name: "cases:read"},
		&events.ScopeDefined{Name: "cases:read", ApprovalsRequired: 1})
	s, err := projections.GetCatalogScope(t.Context(), store, "acme", "cases:read")
	if err != nil || s.Version != 3 || s.Description != "" || s.LastSeq != 4 {
		t.Errorf("redefined scope = %+v, %v; want version 3 at seq 4", s, err)
	}
}

// TestReservedScopes: no app requests a system:* scope, no admin approves
// one (API.md: they are the bootstrap admin's).
func TestReservedScopes(t *testing.T) {
	a := &Apps{Catalog: &catalog.Tenant{Store: memory.New()}}
	var fe fieldErrs
	grants, err := a.initialGrants(t.Context(), "acme", "scopes", []string{"webhooks:read", "system:tenants:write", "system:keys:write"}, &fe)
	if err != nil || len(grants) != 1 || grants[0].Scope != "webhooks:read" || grants[0].Status != "pending" {
		t.Errorf("grants = %+v, %v", grants, err)
	}
	if len(fe) != 1 || fe[0].Field != "scopes" || !strings.Contains(fe[0].Message, "system:tenants:write") {
		t.Errorf("field errors = %+v, want one naming system:tenants:write", fe)
	}
	for _, body := range []string{
		`{"scope":"system:tenants:write","decision":"approve"}`,
		`{"scope":"system:keys:write","decision":"revoke"}`,
	} {
		e := echo.New()
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		c := e.NewContext(req, httptest.NewRecorder())
		oauth.SetPrincipal(c, oauth.Principal{Tenant: "acme", AppID: "app_admin"})
		var p *httpapi.Problem
		if err := HandleBody(a.decideScope)(c); !errors.As(err, &p) || p.Status != http.StatusBadRequest || !strings.Contains(p.Errors[0].Message, "reserved") {
			t.Errorf("%s: %v, want 400 naming the reserved scope", body, err)
		}
	}
}
