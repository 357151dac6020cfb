package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestWebhookRoutes covers the webhook routes' answers other tests leave
// out: deleting a webhook (204, and nothing is delivered to it after),
// the lists' and PATCH's 4xx, the secret rotation's and the deliveries'
// 400, and the scopes each route needs (webhooks:read, webhooks:write,
// events:publish), each with its exact status.
func TestWebhookRoutes(t *testing.T) {
	t.Parallel()
	s := startServer(t, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"), withEnv("WEBHOOK_RETRY_SCHEDULE", "200ms"), withEnv("WEBHOOK_TIMEOUT", "1s"))
	a := adminAPI(t, s)
	typ, _ := webhookTenant(t, a)
	rcv, control := newReceiver(t), newReceiver(t)
	w := a.subscribe(rcv.srv.URL, typ)
	wc := a.subscribe(control.srv.URL, typ)
	hook := "/v1/webhooks/" + w.ID

	t.Run("list", func(t *testing.T) {
		a := a.in(t)
		r := a.call(http.MethodGet, "/v1/webhooks?limit=1", nil)
		var page struct {
			Items      []webhookView `json:"items"`
			NextCursor *string       `json:"next_cursor"`
		}
		r.decode(t, &page)
		if r.Status != http.StatusOK || len(page.Items) != 1 || page.NextCursor == nil {
			t.Fatalf("first page of one: %s", r)
		}
		r = a.call(http.MethodGet, "/v1/webhooks?limit=1&cursor="+*page.NextCursor, nil)
		var next struct {
			Items []webhookView `json:"items"`
		}
		r.decode(t, &next)
		if r.Status != http.StatusOK || len(next.Items) != 1 || next.Items[0].ID == page.Items[0].ID {
			t.Fatalf("second page: %s", r)
		}
		for _, q := range []string{"limit=0", "limit=501", "limit=ten", "limit=-1", "cursor=garbage", "cursor=AQ"} {
			p := wantProblem(t, a.call(http.MethodGet, "/v1/webhooks?"+q, nil), http.StatusBadRequest, "validation_error")
			if field, _, _ := strings.Cut(q, "="); !equalStrings(p.fields(), field) {
				t.Errorf("%s: fields %v, want %s", q, p.fields(), field)
			}
		}
		r = a.as("").call(http.MethodGet, "/v1/webhooks", nil)
		wantProblem(t, r, http.StatusUnauthorized, "unauthorized")
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without a Bearer challenge: %v", r.Header)
		}
	})

	t.Run("scopes", func(t *testing.T) {
		a := a.in(t)
		reader := a.as(appToken(t, a, "reader", "webhooks:read"))
		writer := a.as(appToken(t, a, "writer", "webhooks:write"))
		// webhooks:read alone: its own (none), never the admin's, and no
		// change.
		r := reader.call(http.MethodGet, "/v1/webhooks", nil)
		if r.Status != http.StatusOK || strings.Contains(string(r.Body), w.ID) {
			t.Errorf("a reader's list: %s, want 200 without the admin's webhook", r)
		}
		wantProblem(t, reader.call(http.MethodGet, hook, nil), http.StatusNotFound, "not_found")
		wantProblem(t, reader.call(http.MethodPost, "/v1/webhooks", map[string]any{"url": control.srv.URL, "events": []string{typ}}), http.StatusForbidden, "insufficient_scope")
		wantProblem(t, reader.call(http.MethodPatch, hook, map[string]any{"description": "x"}), http.StatusForbidden, "insufficient_scope")
		wantProblem(t, reader.call(http.MethodDelete, hook, nil), http.StatusForbidden, "insufficient_scope")
		wantProblem(t, reader.call(http.MethodPost, hook+"/secret/rotate", map[string]any{}), http.StatusForbidden, "insufficient_scope")
		// webhooks:write without webhooks:read reads nothing.
		for _, p := range []string{"/v1/webhooks", hook, hook + "/deliveries"} {
			r := writer.call(http.MethodGet, p, nil)
			wantProblem(t, r, http.StatusForbidden, "insufficient_scope")
			if !strings.Contains(r.Header.Get("WWW-Authenticate"), `scope="webhooks:read"`) {
				t.Errorf("GET %s: challenge %q, want it to name webhooks:read", p, r.Header.Get("WWW-Authenticate"))
			}
		}
		// Publishing needs events:publish: exactly 403 insufficient_scope.
		r = writer.call(http.MethodPost, "/v1/events", map[string]any{"type": typ, "data": map[string]any{}})
		wantProblem(t, r, http.StatusForbidden, "insufficient_scope")
		if !strings.Contains(r.Header.Get("WWW-Authenticate"), `scope="events:publish"`) {
			t.Errorf("POST /v1/events: challenge %q, want it to name events:publish", r.Header.Get("WWW-Authenticate"))
		}
	})

	t.Run("patch", func(t *testing.T) {
		a := a.in(t)
		p := wantProblem(t, a.call(http.MethodPatch, hook, map[string]any{"status": "paused"}), http.StatusBadRequest, "validation_error")
		if !equalStrings(p.fields(), "status") {
			t.Errorf("fields %v, want status", p.fields())
		}
		wantProblem(t, a.call(http.MethodPatch, hook, map[string]any{"colour": "red"}), http.StatusBadRequest, "validation_error")
		var cur webhookView
		a.call(http.MethodGet, hook, nil).decode(t, &cur)
		r := a.call(http.MethodPatch, hook, map[string]any{"description": "stale"}, "If-Match", `"999"`)
		wantProblem(t, r, http.StatusPreconditionFailed, "precondition_failed")
		r = a.call(http.MethodPatch, hook, map[string]any{"description": "fresh"}, "If-Match", etagOf(cur.Version))
		if r.Status != http.StatusOK || r.Header.Get("ETag") != etagOf(cur.Version+1) {
			t.Errorf("PATCH with the current If-Match: %s (ETag %q)", r, r.Header.Get("ETag"))
		}
	})

	t.Run("rotate and deliveries 400", func(t *testing.T) {
		a := a.in(t)
		for _, g := range []int{-1, 30*24*3600 + 1} {
			p := wantProblem(t, a.call(http.MethodPost, hook+"/secret/rotate", map[string]any{"grace_period_seconds": g}), http.StatusBadRequest, "validation_error")
			if !equalStrings(p.fields(), "grace_period_seconds") {
				t.Errorf("grace %d: fields %v", g, p.fields())
			}
		}
		// At most 5 live secrets: the creation's and 4 rotations kept alive.
		for i := range 4 {
			if r := a.call(http.MethodPost, hook+"/secret/rotate", map[string]any{"grace_period_seconds": 3600}); r.Status != http.StatusCreated {
				t.Fatalf("rotation %d: %s", i+1, r)
			}
		}
		wantProblem(t, a.call(http.MethodPost, hook+"/secret/rotate", map[string]any{"grace_period_seconds": 3600}), http.StatusConflict, "conflict")
		if r := a.call(http.MethodPost, hook+"/secret/rotate", map[string]any{"grace_period_seconds": 0}); r.Status != http.StatusCreated {
			t.Fatalf("a rotation ending the others at once: %s", r)
		}
		p := wantProblem(t, a.call(http.MethodGet, hook+"/deliveries?status=lost", nil), http.StatusBadRequest, "validation_error")
		if !equalStrings(p.fields(), "status") {
			t.Errorf("status=lost: fields %v", p.fields())
		}
		p = wantProblem(t, a.call(http.MethodGet, hook+"/deliveries?limit=0", nil), http.StatusBadRequest, "validation_error")
		if !equalStrings(p.fields(), "limit") {
			t.Errorf("limit=0: fields %v", p.fields())
		}
	})

	t.Run("tenants 400", func(t *testing.T) {
		a := a.in(t)
		for _, body := range []map[string]any{{"name": ""}, {}, {"name": strings.Repeat("n", 101)}} {
			p := wantProblem(t, a.call(http.MethodPost, "/v1/tenants", body), http.StatusBadRequest, "validation_error")
			if !equalStrings(p.fields(), "name") {
				t.Errorf("%v: fields %v, want name", body, p.fields())
			}
		}
		wantProblem(t, a.call(http.MethodPost, "/v1/tenants", map[string]any{"name": uniqueName(t, "t"), "colour": "red"}), http.StatusBadRequest, "validation_error")
	})

	t.Run("service token jti 400", func(t *testing.T) {
		a := a.in(t)
		app := a.createApp(map[string]any{"name": uniqueName(t, "svc")})
		p := wantProblem(t, a.call(http.MethodDelete, "/v1/platform/apps/"+app.ID+"/tokens/"+strings.Repeat("j", 129), nil), http.StatusBadRequest, "validation_error")
		if !equalStrings(p.fields(), "jti") {
			t.Errorf("fields %v, want jti", p.fields())
		}
	})

	t.Run("delete stops deliveries", func(t *testing.T) {
		a := a.in(t)
		before := a.publish(typ, map[string]any{"before": true})
		waitDelivered(t, a, w.ID, before)
		got := len(rcv.received())
		if got != 1 {
			t.Fatalf("the webhook got %d requests before the delete, want 1", got)
		}
		var cur webhookView
		a.call(http.MethodGet, hook, nil).decode(t, &cur)
		wantProblem(t, a.call(http.MethodDelete, hook, nil, "If-Match", etagOf(cur.Version+7)), http.StatusPreconditionFailed, "precondition_failed")
		if r := a.call(http.MethodDelete, hook, nil, "If-Match", etagOf(cur.Version)); r.Status != http.StatusNoContent || len(r.Body) != 0 {
			t.Fatalf("DELETE: %s, want 204 without a body", r)
		}
		wantProblem(t, a.call(http.MethodGet, hook, nil), http.StatusNotFound, "not_found")
		wantProblem(t, a.call(http.MethodGet, hook+"/deliveries", nil), http.StatusNotFound, "not_found")
		wantProblem(t, a.call(http.MethodDelete, hook, nil), http.StatusNotFound, "not_found")
		after := a.publish(typ, map[string]any{"after": true})
		// The control webhook's delivery of it is made in the same fan-out
		// a delivery to the deleted one would be.
		waitDelivered(t, a, wc.ID, after)
		if n := len(rcv.received()); n != got {
			t.Errorf("the deleted webhook got %d requests, want still %d", n, got)
		}
		r := a.call(http.MethodGet, "/v1/webhooks?limit=500", nil)
		if r.Status != http.StatusOK || strings.Contains(string(r.Body), w.ID) {
			t.Errorf("the list after the delete: %s", r)
		}
	})
}

// appToken creates an app holding scopes, approved, and returns a token of
// it.
func appToken(t *testing.T, a *api, name string, scopes ...string) string {
	t.Helper()
	app := a.createApp(map[string]any{"name": uniqueName(t, name), "requested_scopes": scopes})
	for _, s := range scopes {
		a.decide(app.ID, s, "approve", "")
	}
	return a.mint(appCreds(app)).AccessToken
}

// etagOf is the ETag of version v.
func etagOf(v uint64) string { return `"` + strconv.FormatUint(v, 10) + `"` }
