package loadgen

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestBenchPublishScenarios runs the scenarios that publish events
// against a real server (servertest): deliver (bench's receiver takes
// every event's delivery), idempotent (each POST with a key of its own)
// and publish (a receiver that answers 500: with a short retry schedule
// the wait after the load sees every delivery fail).
func TestBenchPublishScenarios(t *testing.T) {
	s := servertest.New(t, servertest.Env("WEBHOOK_RETRY_SCHEDULE", "50ms"))
	for _, sc := range []string{"deliver", "idempotent", "publish"} {
		res := runBenchJSON(t, "--url", s.URL, "--scenario", sc, "--requests", "20", "--warmup", "0", "--concurrency", "2",
			"--event-kib", "1", "--settle", "1m", "--client-id", s.AdminID, "--client-secret", s.AdminSecret)
		if res.Requests != 20 || res.OK != 20 || res.Errors != 0 {
			t.Errorf("%s: %d requests, %d ok, errors %v; want 20 ok", sc, res.Requests, res.OK, res.ErrorsByKind)
		}
		switch sc {
		case "deliver":
			if d := res.Delivery; d == nil || d.Deliveries != 20 || d.Duplicates != 0 || d.Missing != 0 {
				t.Errorf("deliver: delivery %+v, want 20 deliveries, none missing or twice", d)
			}
		case "publish":
			if !strings.HasPrefix(res.Finish, "every delivery failed") {
				t.Errorf("publish: after the load %q", res.Finish)
			}
		}
	}
}
