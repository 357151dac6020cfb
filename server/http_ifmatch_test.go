package server_test

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestHTTPIfMatchStrongComparison: If-Match is evaluated as RFC 9110
// section 13.1.1 says: a list of entity tags matches when one of them is
// the current ETag, and the comparison is strong, so a weak tag never
// matches (412, nothing changed).
func TestHTTPIfMatchStrongComparison(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	u := createUser(t, s, admin, "ada@example.com")
	path := "/v1/platform/users/" + u.ID
	for _, weak := range []string{`W/"1"`, `W/"1", W/"2"`} {
		wantProblem(t, s.Do(http.MethodPatch, path, admin, map[string]any{"name": "Weak"}, "If-Match", weak), http.StatusPreconditionFailed, "precondition_failed")
		wantProblem(t, s.Do(http.MethodDelete, path, admin, nil, "If-Match", weak), http.StatusPreconditionFailed, "precondition_failed")
	}
	if r := want(t, s.Do(http.MethodGet, path, admin, nil), http.StatusOK); r.Header.Get("ETag") != `"1"` {
		t.Fatalf("a weak If-Match changed the user: ETag %s", r.Header.Get("ETag"))
	}
	r := want(t, s.Do(http.MethodPatch, path, admin, map[string]any{"name": "Listed"}, "If-Match", `"7", W/"1", "1"`), http.StatusOK)
	if r.Header.Get("ETag") != `"2"` {
		t.Fatalf("PATCH with a list naming the current ETag: ETag %s, want \"2\"", r.Header.Get("ETag"))
	}
	wantProblem(t, s.Do(http.MethodDelete, path, admin, nil, "If-Match", `"1", "3"`), http.StatusPreconditionFailed, "precondition_failed")
	want(t, s.Do(http.MethodDelete, path, admin, nil, "If-Match", `"1", "2"`), http.StatusNoContent)
}
