package loadgen

import (
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestBenchCodeFlow runs the code flow's scenarios against a real server
// (servertest): every authorization with the session cookie comes back
// with a code at once (remembered consent) whose exchange with PKCE
// succeeds, and every rotation uses its family's newest refresh token (a
// reused one would revoke the family and fail the rotations after it).
// Both transports: the steps' requests go through raw connections
// (stepClient) by default, through net/http's client with --transport
// net/http.
func TestBenchCodeFlow(t *testing.T) {
	s := servertest.New(t)
	for _, tr := range []string{transportRaw, transportNetHTTP} {
		for _, sc := range []string{"code", "refresh"} {
			res := runBenchJSON(t, "--url", s.URL, "--scenario", sc, "--requests", "30", "--warmup", "0", "--concurrency", "3",
				"--transport", tr, "--client-id", s.AdminID, "--client-secret", s.AdminSecret)
			if res.Requests != 30 || res.OK != 30 || res.Errors != 0 {
				t.Errorf("%s over %s: %d requests, %d ok, errors %v; want 30 ok", sc, tr, res.Requests, res.OK, res.ErrorsByKind)
			}
		}
	}
}
