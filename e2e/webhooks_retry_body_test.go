package e2e

import (
	"crypto/rand"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// TestWebhookManualRetryReadsBodyFromLog: a delivery's body is dropped
// from the projections once it has failed (README "Retention"); the
// owner's manual retry reads it back from the log, so the retried
// request carries the very body of the first attempt (type, timestamp,
// data, byte for byte as far as the reference verifier is concerned: its
// signature verifies with the webhook's secret).
func TestWebhookManualRetryReadsBodyFromLog(t *testing.T) {
	t.Parallel()
	s := startServer(t, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"), withEnv("WEBHOOK_RETRY_SCHEDULE", "100ms,100ms"),
		withEnv("WEBHOOK_TIMEOUT", "2s"))
	a := adminAPI(t, s)
	typ, _ := webhookTenant(t, a)
	rcv := newReceiver(t)
	rcv.mu.Lock()
	rcv.answer = func(int, string) (int, http.Header) { return http.StatusBadGateway, nil }
	rcv.mu.Unlock()
	w := a.subscribe(rcv.srv.URL, typ)
	rcv.setSecrets(w.Secret)

	// A distinctive body, large enough that nothing else could pass for it.
	data := map[string]any{"marker": rand.Text(), "nested": map[string]any{"n": 42.0, "list": []any{"a", "b"}}}
	big := make([]byte, 0, 32<<10)
	for len(big) < 32<<10 {
		big = append(big, rand.Text()...)
	}
	data["blob"] = string(big)
	eventID := a.publish(typ, data)

	var failed deliveryView
	waitFor(t, 60*time.Second, "the delivery to fail", func() bool {
		for _, d := range a.deliveries(w.ID, "failed") {
			if d.EventID == eventID {
				failed = d
				return true
			}
		}
		return false
	})
	first := rcv.received()
	if len(first) != 3 {
		t.Fatalf("the receiver got %d attempts before the delivery failed, want 3", len(first))
	}

	rcv.mu.Lock()
	rcv.answer = nil
	rcv.mu.Unlock()
	if r := a.call(http.MethodPost, "/v1/webhooks/"+w.ID+"/deliveries/"+failed.ID+"/retry", nil); r.Status != http.StatusAccepted {
		t.Fatalf("manual retry: %s", r)
	}
	waitFor(t, 60*time.Second, "the manual retry delivered", func() bool {
		for _, d := range a.deliveries(w.ID, "delivered") {
			if d.ID == failed.ID {
				return true
			}
		}
		return false
	})
	got := rcv.received()
	if len(got) != 4 {
		t.Fatalf("the receiver got %d requests, want 3 failed attempts and the retry", len(got))
	}
	retried := got[3]
	if retried.ID != failed.ID || len(retried.Verified) != 1 || !retried.Verified[0] {
		t.Fatalf("the retried request: webhook-id %q (want %q), verified %v", retried.ID, failed.ID, retried.Verified)
	}
	if retried.Type != typ || !reflect.DeepEqual(retried.Data, data) {
		t.Errorf("the retried request carries type %q and %d data keys (marker %v), want the original %q body", retried.Type, len(retried.Data), retried.Data["marker"], typ)
	}
	if !retried.Timestamp.Equal(first[0].Timestamp) || !reflect.DeepEqual(retried.Data, first[0].Data) {
		t.Errorf("the retried body differs from the first attempt's: timestamp %s vs %s", retried.Timestamp, first[0].Timestamp)
	}
}
