// Package seed builds the log `gatehouse bench seed` writes (issue 7's
// cold start: apps created through the API), for the command and for
// the replay benchmark that measures a start on the same log.
package seed

import (
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// Tenant is the seeded apps' tenant.
const Tenant = "seed"

// AddApp adds app i to a as the API would create it, at at: the claim of
// its name (name.claimed), then app.created, each expecting its aggregate
// new.
func AddApp(a *events.Append, i int, at time.Time) {
	actor := events.Actor{Kind: events.ActorApp, ID: "app_seed_admin"}
	id, name := fmt.Sprintf("app_seed%07d", i), fmt.Sprintf("seeded app %d", i)
	claimed := events.ClaimName(Tenant, "app", name, id)
	ref := events.Ref{Tenant: Tenant, Type: events.AggApp, ID: id}
	a.Events = append(a.Events, events.MustNew(claimed.Ref, actor, at, claimed.Payload),
		events.MustNew(ref, actor, at, &events.AppCreated{
			AppSettings: events.AppSettings{ClientID: fmt.Sprintf("cl_seed%07d", i), Name: name, GrantTypes: []string{"client_credentials"},
				RedirectURIs: []string{}, TokenEndpointAuthMethod: "client_secret_basic", Active: true, AccessTokenTTLSeconds: 3600},
			Scopes:   []events.ScopeGrant{{Scope: "webhooks:read", Status: events.GrantApproved}},
			SecretID: fmt.Sprintf("sec_seed%07d", i), SecretHash: "hmac-sha256:c2VlZGVkIGFwcCBzZWNyZXQgaGFzaA==",
		}))
	a.Expect = append(a.Expect, events.Expect{Ref: claimed.Ref}, events.Expect{Ref: ref})
}
