package projectionstest

import (
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// WebhookCreated is the webhook.created of webhook id, owned by app in
// tenant (active, subscribed to app.created, its secret sealed as a
// placeholder), at at and log position seq: the projector's input for
// tests that fill a store with webhooks.
func WebhookCreated(tenant, id, app string, at time.Time, seq uint64) events.Event {
	e := events.MustNew(events.Ref{Tenant: tenant, Type: events.AggWebhook, ID: id}, events.Actor{Kind: events.ActorApp, ID: app}, at,
		&events.WebhookCreated{WebhookSettings: events.WebhookSettings{AppID: app, URL: "https://a.example/h",
			Events: []string{"app.created"}, Status: events.WebhookStatusActive}, SecretID: "whs_" + id, SecretSealed: "sealed"})
	e.Seq = seq
	return e
}
