package server_test

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestReviewMemberHoldsNoVaultAdminScopes: a user WITHOUT the admin role, signed
// in through an app approved for credentials:write, gets credentials:write
// on their token (catalog.UserMayHold only gates "platform:*"), and with
// it votes an activity that the policy says needs N distinct ADMINS.
func TestReviewMemberHoldsNoVaultAdminScopes(t *testing.T) {
	up := servertest.New(t)
	upstream := createApp(t, up, up.Token(), map[string]any{"name": "vault-client"})
	s := servertest.New(t)
	admin := s.Token()
	tool := createApp(t, s, admin, map[string]any{"name": "tool", "requested_scopes": []string{"credentials:read", "credentials:write"}})
	decide(t, s, admin, tool.ID, "credentials:read", "approve")
	decide(t, s, admin, tool.ID, "credentials:write", "approve")
	mallory := createUser(t, s, admin, "mallory@example.com") // role: member
	malTok := s.UserToken(tool.ClientID, mallory.ID, "credentials:read", "credentials:write")

	want(t, s.Do(http.MethodPut, "/v1/platform/approval-policies/credential_create", admin, map[string]any{"approvals_required": 2}), http.StatusOK)
	body := map[string]any{"name": "drive", "provider": "custom", "grant_type": "client_credentials",
		"client_id": upstream.ClientID, "client_secret": upstream.ClientSecret, "token_url": up.URL + "/v1/oauth/token", "scopes": []string{}}
	var act activity
	want(t, s.Do(http.MethodPost, "/v1/credentials", admin, body), http.StatusAccepted).JSON(t, &act)

	r := s.Do(http.MethodPost, "/v1/platform/activities/"+act.ID+"/decisions", malTok, map[string]any{"decision": "approve"})
	t.Logf("member's vote: %d %s", r.Status, r.Body)
	if r.Status == http.StatusOK {
		var done activity
		r.JSON(t, &done)
		t.Errorf("a member (no admin role) completed a 2-admin quorum: status %s result %s", done.Status, done.Result)
	}
	// A member's token can also PATCH/DELETE any tenant credential directly.
	r = s.Do(http.MethodGet, "/v1/credentials", malTok, nil)
	t.Logf("member lists the vault: %d %.200s", r.Status, r.Body)
}

// TestReviewAppVotesNotThroughAUserToken: the app requests a credential
// create with its own token, then approves it with an admin user's token
// that was issued to it (scope approvals refuse "a user through it";
// activities do not): the app alone meets a quorum of 2.
func TestReviewAppVotesNotThroughAUserToken(t *testing.T) {
	up := servertest.New(t)
	upstream := createApp(t, up, up.Token(), map[string]any{"name": "vault-client"})
	s := servertest.New(t)
	admin := s.Token()
	tool := createApp(t, s, admin, map[string]any{"name": "tool", "requested_scopes": []string{"credentials:read", "credentials:write"}})
	decide(t, s, admin, tool.ID, "credentials:read", "approve")
	decide(t, s, admin, tool.ID, "credentials:write", "approve")
	toolTok := s.TokenFor(tool.ClientID, tool.ClientSecret)
	ada := createUser(t, s, admin, "ada@example.com", "admin")
	adaViaTool := s.UserToken(tool.ClientID, ada.ID, "credentials:write")
	want(t, s.Do(http.MethodPut, "/v1/platform/approval-policies/credential_create", admin, map[string]any{"approvals_required": 2}), http.StatusOK)
	body := map[string]any{"name": "drive", "provider": "custom", "grant_type": "client_credentials",
		"client_id": upstream.ClientID, "client_secret": upstream.ClientSecret, "token_url": up.URL + "/v1/oauth/token", "scopes": []string{}}
	var act activity
	want(t, s.Do(http.MethodPost, "/v1/credentials", toolTok, body), http.StatusAccepted).JSON(t, &act)
	r := s.Do(http.MethodPost, "/v1/platform/activities/"+act.ID+"/decisions", adaViaTool, map[string]any{"decision": "approve"})
	if r.Status == http.StatusOK {
		t.Errorf("app %s approved its own activity through a user token issued to it: %s", tool.ID, r.Body)
	}
}
