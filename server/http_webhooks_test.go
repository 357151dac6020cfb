package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is an httptest endpoint that records what it is sent and
// answers status.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	status int
}

func newReceiver(t *testing.T, status int) *receiver {
	r := &receiver{status: status}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), b})
		r.mu.Unlock()
		w.WriteHeader(r.status)
		io.WriteString(w, "thanks")
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

type webhook struct {
	ID          string   `json:"id"`
	AppID       string   `json:"app_id"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
	Status      string   `json:"status"`
	Secret      string   `json:"secret"`
	Version     int      `json:"version"`
}

// TestHTTPWebhooks: create (the secret shown once), list, get, patch
// (stale If-Match 412), a test send that the receiver verifies with the
// Standard Webhooks library, delete.
func TestHTTPWebhooks(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	rcv := newReceiver(t, http.StatusNoContent)

	wantProblem(t, s.Do(http.MethodPost, "/v1/webhooks", admin, map[string]any{"url": rcv.srv.URL, "events": []string{"no.such"}}), http.StatusBadRequest, "validation_error")
	var w webhook
	want(t, s.Do(http.MethodPost, "/v1/webhooks", admin, map[string]any{"url": rcv.srv.URL, "events": []string{"app.created"}, "description": "audit"}), http.StatusCreated).JSON(t, &w)
	if w.ID == "" || w.AppID == "" || w.URL != rcv.srv.URL || w.Status != "active" || !strings.HasPrefix(w.Secret, "whsec_") || w.Version < 1 {
		t.Fatalf("created %+v", w)
	}
	one := "/v1/webhooks/" + w.ID

	var got webhook
	r := want(t, s.Do(http.MethodGet, one, admin, nil), http.StatusOK)
	r.JSON(t, &got)
	if got.ID != w.ID || got.Secret != "" || r.Header.Get("ETag") != etag(got.Version) {
		t.Fatalf("get %+v ETag %q: the secret is shown once only", got, r.Header.Get("ETag"))
	}
	var list struct {
		Items []webhook `json:"items"`
	}
	want(t, s.Do(http.MethodGet, "/v1/webhooks", admin, nil), http.StatusOK).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0].ID != w.ID || list.Items[0].Secret != "" {
		t.Fatalf("list %+v", list)
	}

	wantProblem(t, s.Do(http.MethodPatch, one, admin, map[string]any{"description": "x"}, "If-Match", etag(w.Version+3)), http.StatusPreconditionFailed, "precondition_failed")
	var patched webhook
	want(t, s.Do(http.MethodPatch, one, admin, map[string]any{"description": "renamed", "events": []string{"app.created", "app.deleted"}}, "If-Match", etag(w.Version)), http.StatusOK).JSON(t, &patched)
	if patched.Description != "renamed" || !slices.Equal(patched.Events, []string{"app.created", "app.deleted"}) || patched.Version <= w.Version {
		t.Fatalf("patched %+v", patched)
	}

	var d struct {
		ID        string `json:"id"`
		EventType string `json:"event_type"`
		Status    string `json:"status"`
		Attempts  []struct {
			StatusCode   int    `json:"status_code"`
			ResponseBody string `json:"response_body"`
		} `json:"attempts"`
	}
	want(t, s.Do(http.MethodPost, one+"/test", admin, nil), http.StatusOK).JSON(t, &d)
	if d.EventType != "webhook.test" || d.Status != "delivered" || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != http.StatusNoContent {
		t.Fatalf("test delivery %+v", d)
	}
	reqs := rcv.requests() // the answer came after the attempt ended
	if len(reqs) != 1 {
		t.Fatalf("the receiver got %d requests, want 1", len(reqs))
	}
	wh, err := standardwebhooks.NewWebhook(w.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(reqs[0].body, reqs[0].header); err != nil {
		t.Fatalf("the delivery does not verify with the webhook's secret: %v", err)
	}
	if reqs[0].header.Get("webhook-id") != d.ID {
		t.Fatalf("webhook-id %q, want the delivery id %q", reqs[0].header.Get("webhook-id"), d.ID)
	}
	var payload struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(reqs[0].body, &payload); err != nil || payload.Type != "webhook.test" {
		t.Fatalf("payload %s: %v", reqs[0].body, err)
	}
	other, _ := standardwebhooks.NewWebhook("whsec_" + strings.Repeat("A", 32))
	if other.Verify(reqs[0].body, reqs[0].header) == nil {
		t.Fatal("the delivery verifies with any secret")
	}

	want(t, s.Do(http.MethodDelete, one, admin, nil), http.StatusNoContent)
	wantProblem(t, s.Do(http.MethodGet, one, admin, nil), http.StatusNotFound, "not_found")
	list.Items = nil
	want(t, s.Do(http.MethodGet, "/v1/webhooks", admin, nil), http.StatusOK).JSON(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("a deleted webhook is listed: %+v", list.Items)
	}
}
