package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// activity is the activity object of API.md (approval policy).
type activity struct {
	ID                string          `json:"id"`
	Type              string          `json:"type"`
	Status            string          `json:"status"`
	Intent            map[string]any  `json:"intent"`
	ApprovalsRequired int             `json:"approvals_required"`
	Votes             []activityVote  `json:"votes"`
	CanApprove        bool            `json:"can_approve"`
	CanReject         bool            `json:"can_reject"`
	Result            json.RawMessage `json:"result"`
	Version           int             `json:"version"`
}

type activityVote struct {
	Actor struct {
		ID string `json:"id"`
	} `json:"actor"`
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
}

// independentAdmin is an app holding scopes approved by admin and a
// secret of its own (rotated in with the one admin was handed, so it
// counts as an admin distinct from admin): its token.
func independentAdmin(t *testing.T, s *servertest.Server, admin, name string, scopes ...string) string {
	t.Helper()
	scopes = append(scopes, "platform:apps:write") // to rotate its own secret in
	a := createApp(t, s, admin, map[string]any{"name": name, "requested_scopes": scopes})
	for _, sc := range scopes {
		decide(t, s, admin, a.ID, sc, "approve")
	}
	handed := s.TokenFor(a.ClientID, a.ClientSecret)
	var rot struct {
		ClientSecret string `json:"client_secret"`
	}
	want(t, s.Do(http.MethodPost, "/v1/platform/apps/"+a.ID+"/secrets", handed, map[string]any{"grace_period_seconds": 0}), http.StatusCreated).JSON(t, &rot)
	return s.TokenFor(a.ClientID, rot.ClientSecret)
}

// TestHTTPCredentialActivities: with the tenant's approval policies
// credential_create and credential_delete at 2, creating and deleting a
// credential answer 202 with a pending activity that holds the
// requester's approval and no secret; the requester (or anyone standing
// for it) cannot approve again; a distinct admin's approval runs the
// create (the first token set fetched then) or the delete; a name taken
// meanwhile makes the result a conflict; one rejection rejects; a
// finished activity takes no vote.
func TestHTTPCredentialActivities(t *testing.T) {
	up := servertest.New(t)
	upstream := createApp(t, up, up.Token(), map[string]any{"name": "vault-client"})
	s := servertest.New(t)
	admin := s.Token()
	var answers []string
	do := func(method, path, token string, body any, headers ...string) servertest.Response {
		r := s.Do(method, path, token, body, headers...)
		answers = append(answers, string(r.Body))
		return r
	}
	reviewer := independentAdmin(t, s, admin, "reviewer", "credentials:read", "credentials:write")
	reader := independentAdmin(t, s, admin, "reader", "credentials:read")
	for _, sub := range []string{"credential_create", "credential_delete"} {
		want(t, do(http.MethodPut, "/v1/platform/approval-policies/"+sub, admin, map[string]any{"approvals_required": 2}), http.StatusOK)
	}
	body := func(name string) map[string]any {
		return map[string]any{"name": name, "provider": "custom", "grant_type": "client_credentials",
			"client_id": upstream.ClientID, "client_secret": upstream.ClientSecret, "token_url": up.URL + "/v1/oauth/token", "scopes": []string{}}
	}
	decideOn := func(token, id string, decision map[string]any, status int) activity {
		t.Helper()
		var a activity
		r := want(t, do(http.MethodPost, "/v1/platform/activities/"+id+"/decisions", token, decision), status)
		if status == http.StatusOK {
			r.JSON(t, &a)
		}
		return a
	}

	// The request: 202, pending, the requester's approval, no secret.
	var act activity
	r := want(t, do(http.MethodPost, "/v1/credentials", admin, body("drive")), http.StatusAccepted)
	r.JSON(t, &act)
	if act.Type != "credential.create" || act.Status != "pending_approval" || act.ApprovalsRequired != 2 || len(act.Votes) != 1 ||
		act.Votes[0].Decision != "approve" || act.CanApprove || act.CanReject || string(act.Result) != "null" ||
		act.Intent["name"] != "drive" || r.Header.Get("Location") != "/v1/platform/activities/"+act.ID {
		t.Fatalf("requested %s", r.Body)
	}
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	want(t, do(http.MethodGet, "/v1/credentials", admin, nil), http.StatusOK).JSON(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("a pending create stored a credential: %s", list.Items)
	}
	// Who may vote, as each caller sees it.
	var seen activity
	want(t, do(http.MethodGet, "/v1/platform/activities/"+act.ID, reviewer, nil), http.StatusOK).JSON(t, &seen)
	if !seen.CanApprove || !seen.CanReject {
		t.Fatalf("the reviewer sees %+v", seen)
	}
	want(t, do(http.MethodGet, "/v1/platform/activities/"+act.ID, reader, nil), http.StatusOK).JSON(t, &seen)
	if seen.CanApprove || seen.CanReject {
		t.Fatalf("a reader without credentials:write sees %+v", seen)
	}
	wantProblem(t, do(http.MethodPost, "/v1/platform/activities/"+act.ID+"/decisions", reader, map[string]any{"decision": "approve"}), http.StatusForbidden, "insufficient_scope")
	// Bad input, unknown activity, the requester again.
	p := wantProblem(t, do(http.MethodPost, "/v1/platform/activities/"+act.ID+"/decisions", reviewer, map[string]any{"decision": "maybe", "reason": strings.Repeat("r", 501)}), http.StatusBadRequest, "validation_error")
	if len(p.Errors) != 2 {
		t.Fatalf("want both fields refused: %+v", p)
	}
	wantProblem(t, do(http.MethodPost, "/v1/platform/activities/act_missing/decisions", reviewer, map[string]any{"decision": "approve"}), http.StatusNotFound, "not_found")
	wantProblem(t, do(http.MethodGet, "/v1/platform/activities/act_missing", reviewer, nil), http.StatusNotFound, "not_found")
	wantProblem(t, do(http.MethodPost, "/v1/platform/activities/"+act.ID+"/decisions", admin, map[string]any{"decision": "approve"}), http.StatusForbidden, "forbidden")

	// A second request for the same name, pending beside the first.
	var dup activity
	want(t, do(http.MethodPost, "/v1/credentials", admin, body("drive")), http.StatusAccepted).JSON(t, &dup)

	// The reviewer's approval runs the create: the token set is fetched.
	done := decideOn(reviewer, act.ID, map[string]any{"decision": "approve", "reason": "checked"}, http.StatusOK)
	var res struct {
		CredentialID string `json:"credential_id"`
	}
	if err := json.Unmarshal(done.Result, &res); err != nil || done.Status != "completed" || len(done.Votes) != 2 || done.Votes[1].Reason != "checked" || res.CredentialID == "" || done.CanApprove {
		t.Fatalf("completed %+v (%v)", done, err)
	}
	var c credential
	want(t, do(http.MethodGet, "/v1/credentials/"+res.CredentialID, admin, nil), http.StatusOK).JSON(t, &c)
	if c.Name != "drive" || c.Status != "active" || c.ExpiresAt == nil {
		t.Fatalf("the approved credential %+v", c)
	}
	wantProblem(t, do(http.MethodPost, "/v1/platform/activities/"+act.ID+"/decisions", reviewer, map[string]any{"decision": "approve"}), http.StatusConflict, "conflict")
	// The duplicate: the name is checked again when it runs.
	failed := decideOn(reviewer, dup.ID, map[string]any{"decision": "approve"}, http.StatusOK)
	var fres struct {
		Error struct {
			Status int    `json:"status"`
			Code   string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(failed.Result, &fres); err != nil || failed.Status != "completed" || fres.Error.Status != http.StatusConflict || fres.Error.Code != "conflict" {
		t.Fatalf("the duplicate ended %+v", failed)
	}

	// Delete: a rejection keeps the credential; an approval deletes it.
	var del activity
	want(t, do(http.MethodDelete, "/v1/credentials/"+c.ID, admin, nil), http.StatusAccepted).JSON(t, &del)
	if del.Type != "credential.delete" || del.Intent["credential_id"] != c.ID {
		t.Fatalf("delete activity %+v", del)
	}
	if rej := decideOn(reviewer, del.ID, map[string]any{"decision": "reject", "reason": "still used"}, http.StatusOK); rej.Status != "rejected" || string(rej.Result) != "null" {
		t.Fatalf("rejected %+v", rej)
	}
	want(t, do(http.MethodGet, "/v1/credentials/"+c.ID, admin, nil), http.StatusOK)
	want(t, do(http.MethodDelete, "/v1/credentials/"+c.ID, reviewer, nil), http.StatusAccepted).JSON(t, &del)
	decideOn(admin, del.ID, map[string]any{"decision": "approve"}, http.StatusOK)
	wantProblem(t, do(http.MethodGet, "/v1/credentials/"+c.ID, admin, nil), http.StatusNotFound, "not_found")

	// The list, oldest first; nothing anywhere holds the client secret.
	want(t, do(http.MethodGet, "/v1/platform/activities", admin, nil), http.StatusOK).JSON(t, &list)
	if len(list.Items) != 4 {
		t.Fatalf("activities %d, want 4", len(list.Items))
	}
	feed := want(t, s.Do(http.MethodGet, "/v1/platform/events?limit=500", admin, nil), http.StatusOK)
	answers = append(answers, string(feed.Body))
	if !strings.Contains(string(feed.Body), "activity.requested") {
		t.Fatalf("the feed lacks the activities: %.300s", feed.Body)
	}
	if all := strings.Join(answers, "\n"); strings.Contains(all, upstream.ClientSecret) || strings.Contains(all, "eyJ") || strings.Contains(all, "_sealed") {
		t.Fatal("an answer or the feed holds a secret")
	}
}
