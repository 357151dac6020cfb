package server_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestHTTPCredentialsQuotaCountsPendingApprovals: with a quota of 2 and
// the approval policy credential_create at 2, each pending create holds
// a slot: a third request is 403 quota_exceeded while two wait; a
// rejection frees its slot; an approved create keeps it (as the
// credential); a deletion frees one; a create whose run fails (its name
// taken meanwhile) frees its hold.
func TestHTTPCredentialsQuotaCountsPendingApprovals(t *testing.T) {
	s := servertest.New(t, servertest.Env("CREDENTIALS_PER_TENANT", "2"))
	admin := s.Token()
	reviewer := independentAdmin(t, s, admin, "reviewer", "credentials:read", "credentials:write")
	want(t, s.Do(http.MethodPut, "/v1/platform/approval-policies/credential_create", admin, map[string]any{"approvals_required": 2}), http.StatusOK)
	create := func(name string) servertest.Response {
		return s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": name, "provider": "github", "client_id": "cid", "client_secret": "cs"})
	}
	request := func(name string) activity {
		t.Helper()
		var a activity
		want(t, create(name), http.StatusAccepted).JSON(t, &a)
		return a
	}
	vote := func(id, decision string) activity {
		t.Helper()
		var a activity
		want(t, s.Do(http.MethodPost, "/v1/platform/activities/"+id+"/decisions", reviewer, map[string]any{"decision": decision}), http.StatusOK).JSON(t, &a)
		return a
	}
	one, two := request("one"), request("two")
	wantProblem(t, create("three"), http.StatusForbidden, "quota_exceeded")
	if a := vote(one.ID, "reject"); a.Status != "rejected" {
		t.Fatalf("rejected %+v", a)
	}
	three := request("three")
	wantProblem(t, create("four"), http.StatusForbidden, "quota_exceeded")
	if a := vote(two.ID, "approve"); a.Status != "completed" || string(a.Result) == "null" || len(a.Result) == 0 || string(a.Result[:9]) == `{"error":` {
		t.Fatalf("approved %+v %s", a, a.Result)
	}
	// One credential and one pending: full.
	wantProblem(t, create("four"), http.StatusForbidden, "quota_exceeded")
	var list struct {
		Items []credential `json:"items"`
	}
	want(t, s.Do(http.MethodGet, "/v1/credentials", admin, nil), http.StatusOK).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0].Name != "two" {
		t.Fatalf("credentials %+v", list.Items)
	}
	// A pending create whose name is taken before it runs completes with
	// its error and frees its hold: the direct create of "three" (no
	// policy) fits only once that hold is gone.
	want(t, s.Do(http.MethodPut, "/v1/platform/approval-policies/credential_create", admin, map[string]any{"approvals_required": 1}), http.StatusOK)
	wantProblem(t, create("five"), http.StatusForbidden, "quota_exceeded")
	want(t, s.Do(http.MethodDelete, "/v1/credentials/"+list.Items[0].ID, admin, nil), http.StatusNoContent)
	want(t, create("three"), http.StatusCreated) // the slot the deletion freed
	wantProblem(t, create("five"), http.StatusForbidden, "quota_exceeded")
	if a := vote(three.ID, "approve"); a.Status != "completed" || string(a.Result[:9]) != `{"error":` {
		t.Fatalf("a create whose name was taken: %+v %s", a, a.Result)
	}
	want(t, create("five"), http.StatusCreated)
	wantProblem(t, create("six"), http.StatusForbidden, "quota_exceeded")
}

// TestHTTPCredentialsQuotaExactUnderConcurrency: 12 creates at once
// against a quota of 5 make exactly 5 credentials (the counter's version
// is expected by every create's append, so racing creates decide again);
// deleting 2 lets exactly 2 more in.
func TestHTTPCredentialsQuotaExactUnderConcurrency(t *testing.T) {
	s := servertest.New(t, servertest.Env("CREDENTIALS_PER_TENANT", "5"))
	admin := s.Token()
	race := func(prefix string, n int) (created []string, refused int) {
		t.Helper()
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r := s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": prefix + string(rune('a'+i)), "provider": "github", "client_id": "cid", "client_secret": "cs"})
				mu.Lock()
				defer mu.Unlock()
				switch r.Status {
				case http.StatusCreated:
					var c credential
					r.JSON(t, &c)
					created = append(created, c.ID)
				case http.StatusForbidden:
					refused++
				default:
					t.Errorf("create: %d %s", r.Status, r.Body)
				}
			})
		}
		wg.Wait()
		return created, refused
	}
	created, refused := race("first", 12)
	if len(created) != 5 || refused != 7 {
		t.Fatalf("created %d, refused %d; want 5 and 7", len(created), refused)
	}
	for _, id := range created[:2] {
		want(t, s.Do(http.MethodDelete, "/v1/credentials/"+id, admin, nil), http.StatusNoContent)
	}
	if more, refused := race("second", 6); len(more) != 2 || refused != 4 {
		t.Fatalf("after 2 deletions: created %d, refused %d; want 2 and 4", len(more), refused)
	}
}
