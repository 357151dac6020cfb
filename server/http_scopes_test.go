package server_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestHTTPScopes: a catalog scope with approvals_required 2 needs two
// distinct actors (the admin, then a reviewer app holding its own secret,
// not the one the admin was handed); an app requests a scope for itself;
// a rejection rejects; approved scopes mint, others do not.
func TestHTTPScopes(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	want(t, s.Do(http.MethodPost, "/v1/platform/scopes", admin,
		map[string]any{"name": "payroll:read", "description": "Read payroll", "requires_approval": true, "approvals_required": 2}), http.StatusCreated)
	want(t, s.Do(http.MethodPost, "/v1/platform/scopes", admin,
		map[string]any{"name": "cases:read", "description": "Read cases", "requires_approval": true}), http.StatusCreated)
	type entry struct {
		Name              string `json:"name"`
		ApprovalsRequired int    `json:"approvals_required"`
		BuiltIn           bool   `json:"built_in"`
	}
	var cat struct {
		Items []entry `json:"items"`
	}
	want(t, s.Do(http.MethodGet, "/v1/platform/scopes", admin, nil), http.StatusOK).JSON(t, &cat)
	if i := slices.IndexFunc(cat.Items, func(e entry) bool { return e.Name == "payroll:read" }); i < 0 || cat.Items[i].ApprovalsRequired != 2 || cat.Items[i].BuiltIn {
		t.Fatalf("catalog lacks payroll:read with 2 approvals: %+v", cat.Items)
	}

	adminApp := createApp(t, s, admin, map[string]any{"name": "probe"}).CreatedBy
	target := createApp(t, s, admin, map[string]any{"name": "target", "requested_scopes": []string{"payroll:read"}})
	if st := target.scope("payroll:read").Status; st != "pending" {
		t.Fatalf("a requested scope starts %q, want pending", st)
	}
	got := decide(t, s, admin, target.ID, "payroll:read", "approve").scope("payroll:read")
	if got.Status != "pending" || !slices.Equal(got.Approvals, []string{adminApp}) {
		t.Fatalf("after one approval of two: %+v", got)
	}
	// Approving again counts nothing.
	if got := decide(t, s, admin, target.ID, "payroll:read", "approve").scope("payroll:read"); got.Status != "pending" || len(got.Approvals) != 1 {
		t.Fatalf("the same actor counted twice: %+v", got)
	}

	reviewer := createApp(t, s, admin, map[string]any{"name": "reviewer", "requested_scopes": []string{"platform:scopes:approve", "platform:apps:write"}})
	decide(t, s, admin, reviewer.ID, "platform:scopes:approve", "approve")
	if st := decide(t, s, admin, reviewer.ID, "platform:apps:write", "approve").scope("platform:apps:write").Status; st != "approved" {
		t.Fatalf("a built-in scope approved by an admin holding it is %q", st)
	}
	// With the secret the admin was handed, the reviewer is the admin.
	handed := s.TokenFor(reviewer.ClientID, reviewer.ClientSecret)
	wantProblem(t, s.Do(http.MethodPost, "/v1/platform/apps/"+target.ID+"/scope-decisions", handed,
		map[string]any{"scope": "payroll:read", "decision": "approve"}), http.StatusForbidden, "forbidden")
	var rot struct {
		ClientSecret string `json:"client_secret"`
	}
	want(t, s.Do(http.MethodPost, "/v1/platform/apps/"+reviewer.ID+"/secrets", handed, map[string]any{"grace_period_seconds": 0}), http.StatusCreated).JSON(t, &rot)
	own := s.TokenFor(reviewer.ClientID, rot.ClientSecret)
	got = decide(t, s, own, target.ID, "payroll:read", "approve").scope("payroll:read")
	if got.Status != "approved" || !slices.Equal(got.Approvals, []string{adminApp, reviewer.ID}) {
		t.Fatalf("after the independent reviewer: %+v", got)
	}

	// The app asks for a scope itself; the admin rejects it.
	self := s.TokenFor(target.ClientID, target.ClientSecret)
	var requested app
	want(t, s.Do(http.MethodPost, "/v1/platform/apps/"+target.ID+"/scope-requests", self, map[string]any{"scopes": []string{"cases:read"}}), http.StatusOK).JSON(t, &requested)
	if st := requested.scope("cases:read").Status; st != "pending" {
		t.Fatalf("a self-requested scope is %q, want pending", st)
	}
	wantProblem(t, s.Do(http.MethodPost, "/v1/platform/apps/"+target.ID+"/scope-requests", self, map[string]any{"scopes": []string{"no:such"}}), http.StatusBadRequest, "validation_error")
	rejected := decide(t, s, admin, target.ID, "cases:read", "reject").scope("cases:read")
	if rejected.Status != "rejected" || rejected.DecidedBy != adminApp || rejected.Reason != "reject in a test" {
		t.Fatalf("rejected: %+v", rejected)
	}

	// Only the approved scope mints.
	s.TokenFor(target.ClientID, target.ClientSecret, "payroll:read")
	r := s.Form("/v1/oauth/token", target.ClientID, target.ClientSecret, map[string][]string{"grant_type": {"client_credentials"}, "scope": {"cases:read"}})
	if r.Status != http.StatusBadRequest {
		t.Fatalf("a rejected scope minted: %d %s", r.Status, r.Body)
	}
}
