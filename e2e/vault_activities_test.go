package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
)

// credentialAdmin creates a second admin app holding the credentials
// scopes (approved by a) that rotated its own secret in, so its votes
// count as another admin's; its API.
func (a *api) credentialAdmin(t *testing.T, name string) *api {
	t.Helper()
	scopes := []string{"credentials:read", "credentials:write", "platform:apps:write"}
	app := a.createApp(map[string]any{"name": uniqueName(t, name), "requested_scopes": scopes})
	for _, s := range scopes {
		a.decide(app.ID, s, "approve", "")
	}
	own := a.as(a.mint(appCreds(app)).AccessToken)
	r := own.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/secrets", map[string]any{"grace_period_seconds": 0})
	if r.Status != http.StatusCreated {
		t.Fatalf("the second admin rotates its own secret: %s", r)
	}
	var rot struct {
		ClientSecret string `json:"client_secret"`
	}
	r.decode(t, &rot)
	app.ClientSecret = rot.ClientSecret
	return a.as(a.mint(appCreds(app)).AccessToken)
}

type activityView struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Status  string          `json:"status"`
	Votes   []any           `json:"votes"`
	Result  json.RawMessage `json:"result"`
	Version uint64          `json:"version"`
}

// TestVaultActivities: on the real binary, a tenant whose approval
// policies ask two admins to create or delete a credential gets 202
// activities from POST /v1/credentials, POST /v1/secrets and DELETE; a
// second admin's approval runs them (the credential exists, with its
// first token set from the provider, or is gone); the requester's second
// vote, a vote on a finished activity, bad input and unknown activities
// are refused. The server is its own provider.
func TestVaultActivities(t *testing.T) {
	t.Parallel()
	s := startServer(t, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"))
	watchUpstreamTokens(s)
	a := freshTenant(t, s, "activities")
	second := a.credentialAdmin(t, "second-admin")
	up := a.createApp(map[string]any{"name": uniqueName(t, "provider")})
	expect := func(api *api, want int, method, path string, body any, headers ...string) reply {
		t.Helper()
		r := api.call(method, path, body, headers...)
		if r.Status != want {
			t.Fatalf("%s %s: want %d, got %s", method, path, want, r)
		}
		return r
	}
	for _, sub := range []string{"credential_create", "credential_delete"} {
		expect(a, http.StatusOK, http.MethodPut, "/v1/platform/approval-policies/"+sub, map[string]any{"approvals_required": 2})
	}
	cc := map[string]any{"name": "crm", "provider": "custom", "grant_type": "client_credentials",
		"client_id": up.ClientID, "client_secret": up.ClientSecret, "token_url": s.URL + "/v1/oauth/token", "scopes": []string{}}

	var act, viaSecrets activityView
	expect(a, http.StatusAccepted, http.MethodPost, "/v1/credentials", cc).decode(t, &act)
	cc["secret_type"], cc["name"] = "oauth2", "crm2"
	expect(a, http.StatusAccepted, http.MethodPost, "/v1/secrets", cc).decode(t, &viaSecrets)
	if act.Status != "pending_approval" || act.Type != "credential.create" || len(act.Votes) != 1 || viaSecrets.Status != "pending_approval" {
		t.Fatalf("requested %+v, %+v", act, viaSecrets)
	}
	expect(a, http.StatusOK, http.MethodGet, "/v1/platform/activities", nil)
	expect(a, http.StatusBadRequest, http.MethodGet, "/v1/platform/activities?limit=nope", nil)
	expect(second, http.StatusOK, http.MethodGet, "/v1/platform/activities/"+act.ID, nil)
	expect(a, http.StatusNotFound, http.MethodGet, "/v1/platform/activities/act_missing", nil)

	decisions := "/v1/platform/activities/" + act.ID + "/decisions"
	expect(second, http.StatusBadRequest, http.MethodPost, decisions, map[string]any{"decision": "perhaps"})
	expect(second, http.StatusNotFound, http.MethodPost, "/v1/platform/activities/act_missing/decisions", map[string]any{"decision": "approve"})
	expect(a, http.StatusForbidden, http.MethodPost, decisions, map[string]any{"decision": "approve"})
	// A vote from a stale page (If-Match another version) is not counted.
	expect(second, http.StatusPreconditionFailed, http.MethodPost, decisions, map[string]any{"decision": "approve"}, "If-Match", fmt.Sprintf(`"%d"`, act.Version+7))
	expect(second, http.StatusOK, http.MethodPost, decisions, map[string]any{"decision": "approve", "reason": "reviewed"}, "If-Match", fmt.Sprintf(`"%d"`, act.Version)).decode(t, &act)
	var res struct {
		CredentialID string `json:"credential_id"`
	}
	if err := json.Unmarshal(act.Result, &res); err != nil || act.Status != "completed" || res.CredentialID == "" {
		t.Fatalf("approved %+v", act)
	}
	expect(second, http.StatusConflict, http.MethodPost, decisions, map[string]any{"decision": "approve"})
	var c credentialView
	expect(a, http.StatusOK, http.MethodGet, "/v1/credentials/"+res.CredentialID, nil).decode(t, &c)
	if c.Status != "active" || c.ExpiresAt == nil {
		t.Fatalf("the approved credential %+v", c)
	}
	expect(second, http.StatusOK, http.MethodPost, "/v1/platform/activities/"+viaSecrets.ID+"/decisions", map[string]any{"decision": "reject"}).decode(t, &viaSecrets)
	if viaSecrets.Status != "rejected" {
		t.Fatalf("rejected %+v", viaSecrets)
	}

	var del activityView
	expect(second, http.StatusAccepted, http.MethodDelete, "/v1/credentials/"+c.ID, nil).decode(t, &del)
	expect(a, http.StatusOK, http.MethodPost, "/v1/platform/activities/"+del.ID+"/decisions", map[string]any{"decision": "approve"}).decode(t, &del)
	if del.Status != "completed" {
		t.Fatalf("delete %+v", del)
	}
	expect(a, http.StatusNotFound, http.MethodGet, "/v1/credentials/"+c.ID, nil)
}
