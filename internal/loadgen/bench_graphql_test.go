package loadgen

import (
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestBenchGraphQL runs the GraphQL figures' scenarios against a real
// server (servertest): the first makes the 50 apps with a webhook each,
// the second finds them made; every step of both answers the 50 apps
// (with their webhooks through GraphQL), or it counts as a bad body.
func TestBenchGraphQL(t *testing.T) {
	s := servertest.New(t)
	for _, sc := range []string{"graphql", "graphql-rest", "graphql"} {
		res := runBenchJSON(t, "--url", s.URL, "--scenario", sc, "--requests", "20", "--warmup", "0", "--concurrency", "2",
			"--client-id", s.AdminID, "--client-secret", s.AdminSecret)
		if res.Requests != 20 || res.OK != 20 || res.Errors != 0 {
			t.Errorf("%s: %d requests, %d ok, errors %v; want 20 ok", sc, res.Requests, res.OK, res.ErrorsByKind)
		}
	}
}
