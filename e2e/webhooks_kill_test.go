package e2e

import (
	"net/http"
	"testing"
	"time"
)

// TestWebhookRetrySurvivesKill9: a delivery waiting for its retry when the
// server is killed (SIGKILL) is retried by the restarted server from the
// schedule in the log, with the same webhook-id, and delivered.
func TestWebhookRetrySurvivesKill9(t *testing.T) {
	t.Parallel()
	s := startServer(t, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"), withEnv("WEBHOOK_RETRY_SCHEDULE", "3s"), withEnv("WEBHOOK_TIMEOUT", "1s"))
	a := adminAPI(t, s)
	typ, _ := webhookTenant(t, a)
	rcv := newReceiver(t)
	rcv.answer = func(n int, _ string) (int, http.Header) {
		if n == 1 {
			return http.StatusServiceUnavailable, nil
		}
		return http.StatusOK, nil
	}
	w := a.subscribe(rcv.srv.URL, typ)
	rcv.setSecrets(w.Secret)
	a.publish(typ, map[string]any{"survives": "kill -9"})
	waitFor(t, 20*time.Second, "the first attempt recorded as retrying", func() bool {
		ds := a.deliveries(w.ID, "retrying")
		return len(ds) == 1 && len(ds[0].Attempts) == 1
	})
	s.kill()
	<-s.proc.exited
	if n := len(rcv.received()); n != 1 {
		t.Fatalf("%d requests before the kill, want 1", n)
	}
	s.restart(t)
	a = adminAPI(t, s)
	waitFor(t, 30*time.Second, "the retry by the restarted server", func() bool {
		ds := a.deliveries(w.ID, "delivered")
		return len(ds) == 1 && len(ds[0].Attempts) == 2
	})
	got := rcv.received()
	if len(got) != 2 || got[0].ID != got[1].ID || !got[1].Verified[0] {
		t.Errorf("receiver got %+v, want the same webhook-id twice, verified", got)
	}
}
