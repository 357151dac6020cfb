package server_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestHTTPQuorumUserThroughApprovingApp: an app that approved a scope of
// quorum 2 does not add the second approval through an admin's token
// issued to it (the app holds that token and sends what it likes with
// it; the vault's activities count votes the same way), nor, the other
// way round, its own approval after one through such a token: 403, still
// pending. An admin signed in through another app completes it.
func TestHTTPQuorumUserThroughApprovingApp(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	for _, scope := range []string{"pay:write", "pay:refund"} {
		want(t, s.Do(http.MethodPost, "/v1/platform/scopes", admin, map[string]any{"name": scope, "approvals_required": 2}), http.StatusCreated)
	}
	portal := createApp(t, s, admin, map[string]any{"name": "portal", "requested_scopes": []string{"platform:scopes:approve", "platform:apps:read"}})
	console := createApp(t, s, admin, map[string]any{"name": "console", "requested_scopes": []string{"platform:scopes:approve", "platform:apps:read"}})
	for _, a := range []app{portal, console} {
		decide(t, s, admin, a.ID, "platform:scopes:approve", "approve")
		decide(t, s, admin, a.ID, "platform:apps:read", "approve")
	}
	target := createApp(t, s, admin, map[string]any{"name": "payer", "requested_scopes": []string{"pay:write", "pay:refund"}})
	ada := createUser(t, s, admin, "ada@example.com", "admin")
	bob := createUser(t, s, admin, "bob@example.com", "admin")

	byPortal := s.TokenFor(portal.ClientID, portal.ClientSecret, "platform:scopes:approve")
	if got := decide(t, s, byPortal, target.ID, "pay:write", "approve").scope("pay:write"); got.Status != "pending" {
		t.Fatalf("after the portal app: %+v", got)
	}
	adaViaPortal := s.UserToken(portal.ClientID, ada.ID, "platform:scopes:approve", "platform:apps:read")
	wantProblem(t, s.Do(http.MethodPost, "/v1/platform/apps/"+target.ID+"/scope-decisions", adaViaPortal,
		map[string]any{"scope": "pay:write", "decision": "approve"}), http.StatusForbidden, "forbidden")
	bobViaConsole := s.UserToken(console.ClientID, bob.ID, "platform:scopes:approve", "platform:apps:read")
	got := decide(t, s, bobViaConsole, target.ID, "pay:write", "approve").scope("pay:write")
	if got.Status != "approved" || !slices.Equal(got.Approvals, []string{portal.ID, bob.ID}) {
		t.Fatalf("after Bob through the console: %+v, want approved by the portal app and Bob", got)
	}

	// The other way round: Ada through the portal first, then the portal.
	if got := decide(t, s, adaViaPortal, target.ID, "pay:refund", "approve").scope("pay:refund"); got.Status != "pending" {
		t.Fatalf("after Ada through the portal: %+v", got)
	}
	wantProblem(t, s.Do(http.MethodPost, "/v1/platform/apps/"+target.ID+"/scope-decisions", byPortal,
		map[string]any{"scope": "pay:refund", "decision": "approve"}), http.StatusForbidden, "forbidden")
	got = decide(t, s, bobViaConsole, target.ID, "pay:refund", "approve").scope("pay:refund")
	if got.Status != "approved" || !slices.Equal(got.Approvals, []string{ada.ID, bob.ID}) {
		t.Fatalf("after Bob through the console: %+v, want approved by Ada and Bob", got)
	}
}
