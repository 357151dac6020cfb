package webhooks_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
	"github.com/gatehouse/gatehouse/webhooks"
)

// TestDispatcherRedactsNestedSecrets: what a webhook receives went
// through the one redaction rule (package redact) at any depth, for a
// built-in app event (app.created: its hash, a secret nested in its
// metadata), and the rest of its data arrives; a published event's data
// is the publisher's own message and arrives as published.
func TestDispatcherRedactsNestedSecrets(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	startInstance(t, log, []time.Duration{10 * time.Millisecond}, func(c *webhooks.Config) {
		c.Scope = func(_ context.Context, _, typ string) (string, bool, error) {
			if et, ok := catalog.BuiltinEventType(typ); ok {
				return et.Scope, true, nil
			}
			return "cases:read", typ == "case.updated", nil
		}
	})
	var mu sync.Mutex
	got := map[string]string{} // type → data
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		raw, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Errorf("body %s: %v", raw, err)
		}
		mu.Lock()
		// app_a's own app.created may arrive too: keep app_b's.
		if b.Type != "app.created" || strings.Contains(string(b.Data), `"app_id":"app_b"`) {
			got[b.Type] = string(b.Data)
		}
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)

	app(t, log, "app_a", "cases:read", "platform:apps:read")
	sealed, err := secrets.Seal(webhooks.SecretAAD("wh_1", "whs_1"), []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	appendOne(t, log, events.Ref{Tenant: tenant, Type: events.AggWebhook, ID: "wh_1"}, nil,
		&events.WebhookCreated{WebhookSettings: events.WebhookSettings{AppID: "app_a", URL: srv.URL, Events: []string{"case.updated", "app.created"}, Status: "active"},
			SecretID: "whs_1", SecretSealed: sealed})
	appendOne(t, log, events.Ref{Tenant: tenant, Type: events.AggApp, ID: "app_b"}, nil,
		&events.AppCreated{AppSettings: events.AppSettings{ClientID: "cl_b", Name: "b", Active: true, TokenEndpointAuthMethod: "client_secret_basic"}, SecretID: "sec_1", SecretHash: "hmac-sha256:HASH-1",
			Metadata: json.RawMessage(`{"team":"blue","integrations":[{"name":"crm","client_secret":"NESTED-1"}]}`)})
	pub := events.MustNew(events.Ref{Tenant: tenant, Type: events.AggPublished, ID: events.NewID("evt")}, events.Actor{Kind: events.ActorApp, ID: "app_a"}, time.Now(),
		&events.EventPublished{Type: "case.updated", AppID: "app_a",
			Data: json.RawMessage(`{"case":{"id":"c1","owner":{"name":"ann","password":"NESTED-2"}},"calls":[{"n":1,"access_token":"NESTED-3"}]}`)})
	pub.ID = pub.Aggregate.ID
	if _, err := log.Append(context.Background(), events.Append{Events: []events.Event{pub}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "both deliveries", 30*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })

	mu.Lock()
	defer mu.Unlock()
	app := got["app.created"]
	for _, gone := range []string{"HASH-1", "NESTED-1", `"secret_hash":`, `"client_secret":`} {
		if strings.Contains(app, gone) {
			t.Errorf("app.created delivered %s: %s left in it", app, gone)
		}
	}
	for _, kept := range []string{`"app_id":"app_b"`, `"client_id":"cl_b"`, `"secret_id":"sec_1"`, `"team":"blue"`, `"name":"crm"`} {
		if !strings.Contains(app, kept) {
			t.Errorf("app.created delivered %s: %s missing", app, kept)
		}
	}
	// A published event is the publisher's message to its subscribers: its
	// data arrives as published, whatever its members are called.
	want := `{"case":{"id":"c1","owner":{"name":"ann","password":"NESTED-2"}},"calls":[{"n":1,"access_token":"NESTED-3"}]}`
	if pub := got["case.updated"]; pub != want {
		t.Errorf("case.updated delivered %s, want it as published: %s", pub, want)
	}
}
