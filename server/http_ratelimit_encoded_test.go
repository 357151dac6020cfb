package server_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestFailureBudgetOfAnEncodedClientID: the Basic user is form-encoded
// (RFC 6749 §2.3.1), so "%61dmin" authenticates as "admin". The budget of
// failed authentications of a client_id from an address counts it as that
// client_id too: it was keyed by the user as sent, so each spelling of one
// client_id had a budget of its own.
func TestFailureBudgetOfAnEncodedClientID(t *testing.T) {
	s := servertest.New(t, servertest.Env("RATE_FAILURES", "2"), servertest.Env("RATE_ADDRESS_FAILURES", "100"), servertest.Env("RATE_WINDOW", "1m"))
	cc := map[string][]string{"grant_type": {"client_credentials"}}
	for i := range 2 {
		if r := s.Form("/v1/oauth/token", s.AdminID, "wrong-secret-0123456789", cc); r.Status != http.StatusUnauthorized {
			t.Fatalf("wrong secret %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	encoded := fmt.Sprintf("%%%02X%s", s.AdminID[0], s.AdminID[1:])
	if r := s.Form("/v1/oauth/token", encoded, "wrong-secret-0123456789", cc); r.Status != http.StatusTooManyRequests {
		t.Fatalf("a third wrong secret as %q: %d %s, want 429 (the client_id's budget is spent)", encoded, r.Status, r.Body)
	}
}
