package server_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// delivery is a delivery of GET /v1/webhooks/{id}/deliveries.
type delivery struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Attempts []struct {
		StatusCode int `json:"status_code"`
	} `json:"attempts"`
}

// TestHTTPWebhookRetry: a manual retry answers 202 with the delivery as
// it now is, claimed for the attempt it starts (retrying, not the failed
// it was), and so does the next read; a retry of a disabled webhook's
// delivery is 409, as its test send is, and records no attempt.
func TestHTTPWebhookRetry(t *testing.T) {
	s := servertest.New(t, servertest.Env("WEBHOOK_RETRY_SCHEDULE", "10ms"))
	admin := s.Token()
	var mode atomic.Int32 // 0: fail; 1: hold until released, then 204
	release := make(chan struct{})
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mode.Load() == 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)
	t.Cleanup(func() { mode.Store(0); close(release) })
	var w webhook
	want(t, s.Do(http.MethodPost, "/v1/webhooks", admin, map[string]any{"url": rcv.URL, "events": []string{"app.created"}}), http.StatusCreated).JSON(t, &w)
	one := "/v1/webhooks/" + w.ID
	var first, second delivery
	want(t, s.Do(http.MethodPost, one+"/test", admin, nil), http.StatusOK).JSON(t, &first)
	want(t, s.Do(http.MethodPost, one+"/test", admin, nil), http.StatusOK).JSON(t, &second)
	get := func(id string) delivery {
		var list struct{ Items []delivery }
		want(t, s.Do(http.MethodGet, one+"/deliveries", admin, nil), http.StatusOK).JSON(t, &list)
		for _, d := range list.Items {
			if d.ID == id {
				return d
			}
		}
		t.Fatalf("delivery %s not listed", id)
		return delivery{}
	}
	reach := func(id, status string) {
		deadline := time.Now().Add(20 * time.Second)
		for get(id).Status != status {
			if time.Now().After(deadline) {
				t.Fatalf("delivery %s is not %s: %+v", id, status, get(id))
			}
			time.Sleep(10 * time.Millisecond) // poll
		}
	}
	reach(first.ID, "failed")
	reach(second.ID, "failed")

	mode.Store(1)
	var d delivery
	want(t, s.Do(http.MethodPost, one+"/deliveries/"+first.ID+"/retry", admin, nil), http.StatusAccepted).JSON(t, &d)
	if d.Status != "retrying" {
		t.Errorf("the retry's answer: %s with %d attempts, want retrying (its attempt is in flight)", d.Status, len(d.Attempts))
	}
	if got := get(first.ID); got.Status != "retrying" {
		t.Errorf("read after the retry's answer: %s, want retrying", got.Status)
	}
	release <- struct{}{}
	reach(first.ID, "delivered")

	want(t, s.Do(http.MethodPatch, one, admin, map[string]any{"status": "disabled"}), http.StatusOK)
	wantProblem(t, s.Do(http.MethodPost, one+"/deliveries/"+second.ID+"/retry", admin, nil), http.StatusConflict, "conflict")
	if got := get(second.ID); got.Status != "failed" || len(got.Attempts) != 2 {
		t.Errorf("a refused retry changed the delivery: %s with %d attempts, want failed with 2", got.Status, len(got.Attempts))
	}
}
