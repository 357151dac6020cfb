package projections_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/projections/postgres"
	"github.com/gatehouse/gatehouse/projections/postgres/pgtest"
)

// TestWebhookIndexOfAppsIsExact: on both stores, after random creates,
// updates (a URL moved, events changed, disabled and enabled by PATCH),
// disables by the dispatcher, secret rotations and deletes of webhooks of
// a few apps in two tenants, each app's list (ListAppWebhooks, the index
// of its webhooks) is exactly the tenant's list (ListWebhooks) with the
// other apps' webhooks left out, in the same order, whatever the page
// size: a deleted webhook leaves its app's index in the same write, a
// changed one stays in it once.
func TestWebhookIndexOfAppsIsExact(t *testing.T) {
	stores := map[string]func(t *testing.T) projections.Store{
		"memory": func(*testing.T) projections.Store { return memory.New() },
		"postgres": func(t *testing.T) projections.Store {
			pool := pgtest.Pool(t, "")
			s, err := postgres.Open(t.Context(), postgres.Config{Pool: pool, Schema: pgtest.Schema(t, pool), Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			r := rand.New(rand.NewPCG(9, 4))
			apps, tenants := []string{"app_a", "app_b", "app_c"}, []string{"t1", "t2"}
			type hook struct{ tenant, app string }
			live := map[string]hook{}
			seq := uint64(0)
			apply := func(evs ...events.Event) {
				t.Helper()
				seq++
				err := store.Update(context.Background(), events.Control, seq, func(tx projections.Tx) error {
					for _, e := range evs {
						e.Seq = seq
						if err := projections.Apply(tx, e); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
			for round := range 8 {
				var evs []events.Event
				for i := range 15 {
					ms := round*100 + i
					ids := make([]string, 0, len(live))
					for id := range live {
						ids = append(ids, id)
					}
					slices.Sort(ids)
					if len(ids) == 0 || r.IntN(3) == 0 {
						id, h := fmt.Sprintf("wh_%d_%d", round, i), hook{tenants[r.IntN(2)], apps[r.IntN(3)]}
						live[id] = h
						evs = append(evs, events.MustNew(events.Ref{Tenant: h.tenant, Type: events.AggWebhook, ID: id}, events.Actor{Kind: events.ActorApp, ID: h.app}, at(ms),
							&events.WebhookCreated{WebhookSettings: events.WebhookSettings{AppID: h.app, URL: "https://a.example/h", Events: []string{"app.created"},
								Status: events.WebhookStatusActive}, SecretID: "whs_" + id, SecretSealed: "sealed"}))
						continue
					}
					id := ids[r.IntN(len(ids))]
					h := live[id]
					ref := events.Ref{Tenant: h.tenant, Type: events.AggWebhook, ID: id}
					actor := events.Actor{Kind: events.ActorApp, ID: h.app}
					url := fmt.Sprintf("https://moved%d.example/h", ms)
					disabled, active := events.WebhookStatusDisabled, events.WebhookStatusActive
					var p events.Payload
					switch r.IntN(6) {
					case 0:
						p = &events.WebhookUpdated{URL: &url}
					case 1:
						p = &events.WebhookUpdated{Status: &disabled}
					case 2:
						p = &events.WebhookUpdated{Status: &active, Events: &[]string{"app.updated", "app.created"}}
					case 3:
						p = &events.WebhookDisabled{AppID: h.app, URL: "https://a.example/h", Reason: "failing"}
					case 4:
						p = &events.WebhookSecretRotated{SecretID: fmt.Sprintf("whs_%d", ms), SecretSealed: "sealed", PreviousExpiresAt: at(ms)}
					default:
						p = &events.WebhookDeleted{AppID: h.app}
						delete(live, id)
					}
					evs = append(evs, events.MustNew(ref, actor, at(ms), p))
				}
				// Some writes alone, some together: a create and a delete of
				// one webhook may share a transaction.
				for len(evs) > 0 {
					n := min(len(evs), 1+r.IntN(4))
					apply(evs[:n]...)
					evs = evs[n:]
				}
				for _, tenant := range tenants {
					all, err := listWebhooks(t, store, tenant, "", 500)
					if err != nil {
						t.Fatal(err)
					}
					for _, app := range apps {
						var want []string
						for _, h := range all {
							if h.AppID == app {
								want = append(want, h.ID)
							}
						}
						for id, h := range live {
							if h.tenant == tenant && h.app == app && !slices.Contains(want, id) {
								t.Fatalf("round %d: %s of %s/%s is not listed", round, id, tenant, app)
							}
						}
						for _, limit := range []int{1, 2, 50} {
							got, err := listWebhooks(t, store, tenant, app, limit)
							if err != nil {
								t.Fatal(err)
							}
							ids := make([]string, len(got))
							for i, h := range got {
								ids[i] = h.ID
							}
							if !slices.Equal(ids, want) {
								t.Fatalf("round %d, %s/%s, limit %d: the app's index lists %v, the tenant's list has %v", round, tenant, app, limit, ids, want)
							}
						}
					}
				}
			}
		})
	}
}

// listWebhooks pages through tenant's webhooks (app's only when set).
func listWebhooks(t *testing.T, r projections.Reader, tenant, app string, limit int) ([]projections.Webhook, error) {
	var out []projections.Webhook
	for p := (projections.Page{Limit: limit}); ; {
		var hooks []projections.Webhook
		var next string
		var err error
		if app == "" {
			hooks, next, err = projections.ListWebhooks(t.Context(), r, tenant, p)
		} else {
			hooks, next, err = projections.ListAppWebhooks(t.Context(), r, tenant, app, p)
		}
		if err != nil {
			return nil, err
		}
		if out = append(out, hooks...); next == "" {
			return out, nil
		}
		p.After = next
	}
}
