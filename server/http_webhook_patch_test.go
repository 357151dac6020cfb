package server_test

import (
	"net/http"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestHTTPWebhookPatchNothing: a PATCH that changes nothing (an empty
// object, the values the webhook has, nulls) answers the webhook as it is
// with its version, appends no webhook.updated, and leaves any If-Match
// that holds the version valid; one that changes something moves it.
func TestHTTPWebhookPatchNothing(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	rcv := newReceiver(t, http.StatusNoContent)
	var w webhook
	want(t, s.Do(http.MethodPost, "/v1/webhooks", admin, map[string]any{"url": rcv.srv.URL, "events": []string{"app.created"}, "description": "audit"}), http.StatusCreated).JSON(t, &w)
	one := "/v1/webhooks/" + w.ID
	updates := func() int {
		var feed struct {
			Items []struct {
				Type string `json:"type"`
			} `json:"items"`
		}
		want(t, s.Do(http.MethodGet, "/v1/platform/events?type=webhook.updated&limit=500", admin, nil), http.StatusOK).JSON(t, &feed)
		n := 0
		for _, e := range feed.Items {
			if e.Type == "webhook.updated" {
				n++
			}
		}
		return n
	}
	for _, body := range []any{
		map[string]any{},
		map[string]any{"url": nil, "description": nil},
		map[string]any{"url": rcv.srv.URL, "events": []string{"app.created"}, "description": "audit", "status": "active"},
	} {
		var got webhook
		r := want(t, s.Do(http.MethodPatch, one, admin, body, "If-Match", etag(w.Version)), http.StatusOK)
		r.JSON(t, &got)
		if got.Version != w.Version || r.Header.Get("ETag") != etag(w.Version) || got.URL != w.URL || got.Description != "audit" {
			t.Fatalf("PATCH %v: version %d ETag %q, %+v; want the webhook as it was, version %d", body, got.Version, r.Header.Get("ETag"), got, w.Version)
		}
	}
	if n := updates(); n != 0 {
		t.Fatalf("%d webhook.updated for PATCHes that changed nothing", n)
	}
	var got webhook
	want(t, s.Do(http.MethodPatch, one, admin, map[string]any{"description": "audit", "status": "disabled"}, "If-Match", etag(w.Version)), http.StatusOK).JSON(t, &got)
	if got.Version <= w.Version || got.Status != "disabled" || updates() != 1 {
		t.Fatalf("a PATCH that disables: %+v (version %d before), %d updates", got, w.Version, updates())
	}
	wantProblem(t, s.Do(http.MethodPatch, one, admin, map[string]any{}, "If-Match", etag(w.Version)), http.StatusPreconditionFailed, "precondition_failed")
}
