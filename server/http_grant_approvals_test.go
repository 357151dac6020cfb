package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// approvalsApp is the App object's approvals of grant types and redirect URIs.
type approvalsApp struct {
	ID       string `json:"id"`
	ClientID string `json:"client_id"`
	Version  int    `json:"version"`
	Grants   []struct {
		GrantType string `json:"grant_type"`
		appScope
	} `json:"grants"`
	RedirectURIs []struct {
		RedirectURI string `json:"redirect_uri"`
		appScope
	} `json:"redirect_uri_approvals"`
	RedirectURIsGiven []string `json:"redirect_uris"`
	GrantTypes        []string `json:"grant_types"`
}

func (a approvalsApp) grant(gt string) appScope {
	for _, g := range a.Grants {
		if g.GrantType == gt {
			return g.appScope
		}
	}
	return appScope{}
}

func (a approvalsApp) redirect(uri string) appScope {
	for _, u := range a.RedirectURIs {
		if u.RedirectURI == uri {
			return u.appScope
		}
	}
	return appScope{}
}

func decideOn(t *testing.T, s *servertest.Server, token, appID string, body map[string]any, status int) approvalsApp {
	t.Helper()
	var a approvalsApp
	r := want(t, s.Do(http.MethodPost, "/v1/platform/apps/"+appID+"/scope-decisions", token, body), status)
	if status == http.StatusOK {
		r.JSON(t, &a)
	}
	return a
}

func getCodeApp(t *testing.T, s *servertest.Server, token, id string) approvalsApp {
	t.Helper()
	var a approvalsApp
	want(t, s.Do(http.MethodGet, "/v1/platform/apps/"+id, token, nil), http.StatusOK).JSON(t, &a)
	return a
}

// TestHTTPGrantApprovals: an app's authorization_code grant and each of
// its redirect URIs start pending and are approved, rejected and revoked
// through scope-decisions; bad bodies are 400 and change nothing; another
// tenant's admin gets 404; a PATCH adds pending ones and drops removed
// ones; the decisions are in the feed.
func TestHTTPGrantApprovals(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	const u1, u2, u3 = "https://rp.example.com/cb", "http://127.0.0.1/cb", "https://rp.example.com/cb3"
	created := createApp(t, s, admin, map[string]any{"name": "rp", "grant_types": []string{"client_credentials", "authorization_code", "refresh_token"},
		"redirect_uris": []string{u1, u2}})
	a := getCodeApp(t, s, admin, created.ID)
	if len(a.Grants) != 1 || a.grant("authorization_code").Status != "pending" {
		t.Fatalf("grants of a new code-flow app: %+v", a.Grants)
	}
	if len(a.RedirectURIs) != 2 || a.redirect(u1).Status != "pending" || a.redirect(u2).Status != "pending" {
		t.Fatalf("redirect approvals of a new app: %+v", a.RedirectURIs)
	}
	// client_credentials needs no approval.
	s.TokenFor(created.ClientID, created.ClientSecret)

	// Bad input: 400, nothing changed.
	for _, body := range []map[string]any{
		{"decision": "approve"},
		{"scope": "cases:read", "grant_type": "authorization_code", "decision": "approve"},
		{"grant_type": "authorization_code", "redirect_uri": u1, "decision": "approve"},
		{"grant_type": "client_credentials", "decision": "approve"},
		{"grant_type": "refresh_token", "decision": "approve"},
		{"grant_type": "authorization_code", "decision": "maybe"},
	} {
		wantProblem(t, s.Do(http.MethodPost, "/v1/platform/apps/"+a.ID+"/scope-decisions", admin, body), http.StatusBadRequest, "validation_error")
	}
	wantProblem(t, s.Do(http.MethodPost, "/v1/platform/apps/"+a.ID+"/scope-decisions", admin,
		map[string]any{"redirect_uri": "https://other.example.com/cb", "decision": "approve"}), http.StatusConflict, "conflict")
	if now := getCodeApp(t, s, admin, a.ID); now.Version != a.Version {
		t.Fatalf("refused decisions changed the app: version %d, was %d", now.Version, a.Version)
	}

	// Another tenant's admin: 404.
	var tenant struct {
		AdminApp struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		} `json:"admin_app"`
	}
	want(t, s.Do(http.MethodPost, "/v1/tenants", admin, map[string]any{"name": "other"}), http.StatusCreated).JSON(t, &tenant)
	other := s.TokenFor(tenant.AdminApp.ClientID, tenant.AdminApp.ClientSecret)
	wantProblem(t, s.Do(http.MethodPost, "/v1/platform/apps/"+a.ID+"/scope-decisions", other,
		map[string]any{"grant_type": "authorization_code", "decision": "approve"}), http.StatusNotFound, "not_found")
	if now := getCodeApp(t, s, admin, a.ID); now.grant("authorization_code").Status != "pending" {
		t.Fatalf("another tenant's decision took effect: %+v", now.Grants)
	}

	adminApp := created.CreatedBy
	a = decideOn(t, s, admin, a.ID, map[string]any{"grant_type": "authorization_code", "decision": "approve", "reason": "reviewed"}, http.StatusOK)
	if g := a.grant("authorization_code"); g.Status != "approved" || g.DecidedBy != adminApp || g.Reason != "reviewed" || !slices.Equal(g.Approvals, []string{adminApp}) {
		t.Fatalf("approved grant: %+v", g)
	}
	// Idempotent: the same key and body answer the same, once.
	key := []string{"Idempotency-Key", "approve-u1"}
	r1 := want(t, s.Do(http.MethodPost, "/v1/platform/apps/"+a.ID+"/scope-decisions", admin, map[string]any{"redirect_uri": u1, "decision": "approve"}, key...), http.StatusOK)
	r2 := want(t, s.Do(http.MethodPost, "/v1/platform/apps/"+a.ID+"/scope-decisions", admin, map[string]any{"redirect_uri": u1, "decision": "approve"}, key...), http.StatusOK)
	if string(r1.Body) != string(r2.Body) {
		t.Fatalf("a repeated Idempotency-Key answered differently:\n%s\n%s", r1.Body, r2.Body)
	}
	a = decideOn(t, s, admin, a.ID, map[string]any{"redirect_uri": u2, "decision": "reject", "reason": "not ours"}, http.StatusOK)
	if st := a.redirect(u1).Status; st != "approved" {
		t.Fatalf("u1 is %q", st)
	}
	if r := a.redirect(u2); r.Status != "rejected" || r.Reason != "not ours" {
		t.Fatalf("rejected u2: %+v", r)
	}
	decideOn(t, s, admin, a.ID, map[string]any{"redirect_uri": u2, "decision": "approve"}, http.StatusConflict)
	a = decideOn(t, s, admin, a.ID, map[string]any{"grant_type": "authorization_code", "decision": "revoke"}, http.StatusOK)
	if st := a.grant("authorization_code").Status; st != "rejected" {
		t.Fatalf("a revoked grant is %q", st)
	}

	// PATCH: a URI added starts pending, a removed one goes; the grant
	// removed goes, added again it is pending again.
	var patched approvalsApp
	want(t, s.Do(http.MethodPatch, "/v1/platform/apps/"+a.ID, admin, map[string]any{"redirect_uris": []string{u2, u3}}), http.StatusOK).JSON(t, &patched)
	if len(patched.RedirectURIs) != 2 || patched.redirect(u2).Status != "rejected" || patched.redirect(u3).Status != "pending" || patched.redirect(u1).Status != "" {
		t.Fatalf("after the PATCH: %+v", patched.RedirectURIs)
	}
	want(t, s.Do(http.MethodPatch, "/v1/platform/apps/"+a.ID, admin, map[string]any{"redirect_uris": []string{}, "grant_types": []string{"client_credentials"}}), http.StatusOK).JSON(t, &patched)
	if len(patched.Grants) != 0 || len(patched.RedirectURIs) != 0 {
		t.Fatalf("approvals after authorization_code was removed: %+v %+v", patched.Grants, patched.RedirectURIs)
	}
	want(t, s.Do(http.MethodPatch, "/v1/platform/apps/"+a.ID, admin, map[string]any{"grant_types": []string{"client_credentials", "authorization_code"}, "redirect_uris": []string{u1}}), http.StatusOK).JSON(t, &patched)
	if st := patched.redirect(u1).Status; st != "pending" {
		t.Fatalf("u1 added again is %q", st)
	}
	if st := patched.grant("authorization_code").Status; st != "pending" {
		t.Fatalf("authorization_code added again is %q", st)
	}

	// The decisions are in the feed, naming what was decided.
	var feed struct {
		Items []struct {
			Type  string         `json:"type"`
			Actor map[string]any `json:"actor"`
			Data  map[string]any `json:"data"`
		} `json:"items"`
	}
	want(t, s.Do(http.MethodGet, "/v1/platform/events?type="+url.QueryEscape("app.scope.*"), admin, nil), http.StatusOK).JSON(t, &feed)
	var seen []string
	for _, e := range feed.Items {
		if gt, ok := e.Data["grant_type"].(string); ok {
			seen = append(seen, e.Type+" "+gt)
		}
		if u, ok := e.Data["redirect_uri"].(string); ok {
			seen = append(seen, e.Type+" "+u)
		}
	}
	wantSeen := []string{"app.scope.approved authorization_code", "app.scope.approved " + u1, "app.scope.rejected " + u2, "app.scope.revoked authorization_code"}
	if !slices.Equal(seen, wantSeen) {
		t.Fatalf("feed: %v, want %v", seen, wantSeen)
	}
}

// TestHTTPGrantApprovalQuorum: with the tenant's redirect_uri policy at 2
// approvals, one admin's approval leaves a redirect URI pending and a
// second, independent admin's approves it; the grant_type policy stays 1.
func TestHTTPGrantApprovalQuorum(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	var pol struct {
		Subject           string `json:"subject"`
		ApprovalsRequired int    `json:"approvals_required"`
		Version           int    `json:"version"`
	}
	want(t, s.Do(http.MethodGet, "/v1/platform/approval-policies/redirect_uri", admin, nil), http.StatusOK).JSON(t, &pol)
	if pol.ApprovalsRequired != 1 || pol.Version != 0 {
		t.Fatalf("default policy: %+v", pol)
	}
	wantProblem(t, s.Do(http.MethodPut, "/v1/platform/approval-policies/redirect_uri", admin, map[string]any{"approvals_required": 0}), http.StatusBadRequest, "validation_error")
	wantProblem(t, s.Do(http.MethodPut, "/v1/platform/approval-policies/scope", admin, map[string]any{"approvals_required": 2}), http.StatusNotFound, "not_found")
	wantProblem(t, s.Do(http.MethodPut, "/v1/platform/approval-policies/redirect_uri", admin, map[string]any{"approvals_required": 2}, "If-Match", `"7"`), http.StatusPreconditionFailed, "precondition_failed")
	want(t, s.Do(http.MethodPut, "/v1/platform/approval-policies/redirect_uri", admin, map[string]any{"approvals_required": 2}), http.StatusOK).JSON(t, &pol)
	if pol.ApprovalsRequired != 2 || pol.Version != 1 || pol.Subject != "redirect_uri" {
		t.Fatalf("policy set: %+v", pol)
	}
	var list struct {
		Items []struct {
			Subject           string `json:"subject"`
			ApprovalsRequired int    `json:"approvals_required"`
		} `json:"items"`
	}
	want(t, s.Do(http.MethodGet, "/v1/platform/approval-policies", admin, nil), http.StatusOK).JSON(t, &list)
	if len(list.Items) != 4 || list.Items[0].ApprovalsRequired != 1 || list.Items[1].ApprovalsRequired != 2 || list.Items[2].Subject != "credential_create" {
		t.Fatalf("policies: %+v", list.Items)
	}

	const u = "https://rp.example.com/cb"
	rp := createApp(t, s, admin, map[string]any{"name": "rp", "grant_types": []string{"authorization_code"}, "redirect_uris": []string{u}, "token_endpoint_auth_method": "client_secret_post"})
	a := decideOn(t, s, admin, rp.ID, map[string]any{"grant_type": "authorization_code", "decision": "approve"}, http.StatusOK)
	if st := a.grant("authorization_code").Status; st != "approved" {
		t.Fatalf("grant_type policy 1: %q", st)
	}
	a = decideOn(t, s, admin, rp.ID, map[string]any{"redirect_uri": u, "decision": "approve"}, http.StatusOK)
	if r := a.redirect(u); r.Status != "pending" || len(r.Approvals) != 1 {
		t.Fatalf("after one approval of two: %+v", r)
	}
	a = decideOn(t, s, admin, rp.ID, map[string]any{"redirect_uri": u, "decision": "approve"}, http.StatusOK)
	if r := a.redirect(u); r.Status != "pending" || len(r.Approvals) != 1 {
		t.Fatalf("the same admin counted twice: %+v", r)
	}

	// A reviewer app with its own secret (not the one the admin was
	// handed) is a second actor.
	reviewer := createApp(t, s, admin, map[string]any{"name": "reviewer", "requested_scopes": []string{"platform:scopes:approve", "platform:apps:write"}})
	decide(t, s, admin, reviewer.ID, "platform:scopes:approve", "approve")
	decide(t, s, admin, reviewer.ID, "platform:apps:write", "approve")
	handed := s.TokenFor(reviewer.ClientID, reviewer.ClientSecret)
	decideOn(t, s, handed, rp.ID, map[string]any{"redirect_uri": u, "decision": "approve"}, http.StatusForbidden)
	var rot struct {
		ClientSecret string `json:"client_secret"`
	}
	want(t, s.Do(http.MethodPost, "/v1/platform/apps/"+reviewer.ID+"/secrets", handed, map[string]any{"grace_period_seconds": 0}), http.StatusCreated).JSON(t, &rot)
	own := s.TokenFor(reviewer.ClientID, rot.ClientSecret)
	a = decideOn(t, s, own, rp.ID, map[string]any{"redirect_uri": u, "decision": "approve"}, http.StatusOK)
	if r := a.redirect(u); r.Status != "approved" || !slices.Equal(r.Approvals, []string{rp.CreatedBy, reviewer.ID}) || r.DecidedBy != reviewer.ID {
		t.Fatalf("after the second admin: %+v", r)
	}
}

// TestHTTPApproveCodeFlow: the helper the code flow's tests use approves
// every pending grant and redirect URI.
func TestHTTPApproveCodeFlow(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	rp := createApp(t, s, admin, map[string]any{"name": "rp", "grant_types": []string{"authorization_code", "refresh_token"},
		"redirect_uris": []string{"https://a.example.com/cb", "https://b.example.com/cb"}, "token_endpoint_auth_method": "client_secret_post"})
	s.ApproveCodeFlow(rp.ID)
	a := getCodeApp(t, s, admin, rp.ID)
	if a.grant("authorization_code").Status != "approved" || a.redirect("https://a.example.com/cb").Status != "approved" || a.redirect("https://b.example.com/cb").Status != "approved" {
		t.Fatalf("after ApproveCodeFlow: %+v %+v", a.Grants, a.RedirectURIs)
	}
}
