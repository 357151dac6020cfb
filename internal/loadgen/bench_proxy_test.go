package loadgen

import (
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestBenchProxy runs both proxy scenarios against a real server
// (servertest, which allows loopback upstreams): every step through the
// proxy reaches the upstream with the provider token (the API endpoint
// refuses any other, and a refusal fails the run) and answers the
// expected body; the baseline ran first against the same endpoint.
func TestBenchProxy(t *testing.T) {
	s := servertest.New(t)
	for sc, path := range map[string]string{"proxy": upstreamAPIPath, "proxy-noop": upstreamNoopPath} {
		res := runBenchJSON(t, "--url", s.URL, "--scenario", sc, "--requests", "20", "--warmup", "0", "--concurrency", "2",
			"--client-id", s.AdminID, "--client-secret", s.AdminSecret)
		if res.Requests != 20 || res.OK != 20 || res.Errors != 0 {
			t.Errorf("%s: %d requests, %d ok, errors %v; want 20 ok", sc, res.Requests, res.OK, res.ErrorsByKind)
		}
		if b := res.Baseline; b == nil || b.Upstream != path || b.OKRPS <= 0 || b.Errors != 0 {
			t.Errorf("%s: baseline %+v", sc, b)
		}
	}
}
