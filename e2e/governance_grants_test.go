package e2e

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestApprovalPolicies (API.md "Users and sign-in": grant types and
// redirect URIs approved with the quorum configured for the tenant): a
// tenant's policies read 1 until set; a bad quorum is 400, an unknown
// kind 404, a stale If-Match 412; with the redirect_uri policy at 2, one
// admin's approval leaves a new app's redirect URI pending while its
// authorization_code grant (policy 1) is approved by one, on the real
// binary.
func TestApprovalPolicies(t *testing.T) {
	t.Parallel()
	a := freshTenant(t, shared(t), "policies")
	const base = "/v1/platform/approval-policies"
	var list struct {
		Items []struct {
			Subject           string `json:"subject"`
			ApprovalsRequired int    `json:"approvals_required"`
		} `json:"items"`
	}
	r := a.call(http.MethodGet, base, nil)
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &list) != nil || len(list.Items) != 4 || list.Items[0].ApprovalsRequired != 1 || list.Items[3].Subject != "credential_delete" {
		t.Fatalf("policies: %s", r)
	}
	if r := a.call(http.MethodGet, base+"/redirect_uri", nil); r.Status != http.StatusOK || r.Header.Get("ETag") != `"0"` {
		t.Fatalf("a policy never set: %s", r)
	}
	for _, c := range []struct {
		method, path string
		body         any
		headers      []string
		status       int
	}{
		{http.MethodGet, base + "/scope", nil, nil, http.StatusNotFound},
		{http.MethodPut, base + "/scope", map[string]any{"approvals_required": 2}, nil, http.StatusNotFound},
		{http.MethodPut, base + "/redirect_uri", map[string]any{"approvals_required": 0}, nil, http.StatusBadRequest},
		{http.MethodPut, base + "/redirect_uri", map[string]any{"approvals_required": 2}, []string{"If-Match", `"9"`}, http.StatusPreconditionFailed},
		{http.MethodPut, base + "/redirect_uri", map[string]any{"approvals_required": 2}, []string{"If-Match", `"0"`}, http.StatusOK},
	} {
		if r := a.call(c.method, c.path, c.body, c.headers...); r.Status != c.status {
			t.Fatalf("%s %s %v: %s, want %d", c.method, c.path, c.body, r, c.status)
		}
	}

	app := a.createApp(map[string]any{"name": uniqueName(t, "rp"), "grant_types": []string{"authorization_code"}, "redirect_uris": []string{"https://rp.example.com/cb"}})
	type approval struct {
		Status    string   `json:"status"`
		Approvals []string `json:"approvals"`
	}
	var got struct {
		Grants               []approval `json:"grants"`
		RedirectURIApprovals []approval `json:"redirect_uri_approvals"`
	}
	decide := func(body map[string]any) {
		t.Helper()
		r := a.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/scope-decisions", body)
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &got) != nil {
			t.Fatalf("decide %v: %s", body, r)
		}
	}
	decide(map[string]any{"grant_type": "authorization_code", "decision": "approve"})
	decide(map[string]any{"redirect_uri": "https://rp.example.com/cb", "decision": "approve"})
	if len(got.Grants) != 1 || got.Grants[0].Status != "approved" || len(got.RedirectURIApprovals) != 1 ||
		got.RedirectURIApprovals[0].Status != "pending" || len(got.RedirectURIApprovals[0].Approvals) != 1 {
		t.Fatalf("after one admin's approvals: %+v", got)
	}
}
