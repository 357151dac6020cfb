package graphql

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/graphql/model"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/projections/projectionstest"
)

// listSpy records the webhook lists read through it.
type listSpy struct {
	projections.Reader
	mu     sync.Mutex
	owners []string // Page.Owner of each List of webhooks ("": the tenant's)
	limits []int    // and its Page.Limit
}

func (s *listSpy) List(ctx context.Context, kind, tenant string, p projections.Page) ([]projections.Doc, string, error) {
	if kind == projections.KindWebhook {
		s.mu.Lock()
		s.owners = append(s.owners, p.Owner)
		s.limits = append(s.limits, p.Limit)
		s.mu.Unlock()
	}
	return s.Reader.List(ctx, kind, tenant, p)
}

// TestAppWebhooksReadEachAppsIndex: App.webhooks of the apps of an answer
// reads, in one batch, each app's webhooks from its index (a List with
// Page.Owner), never the tenant's every webhook (before: ListWebhooks
// page by page, 4 pages of 500 here, grouped by app); each app answers
// its own, oldest first, at most first; without platform:apps:read,
// another app's are none, and an app added after the batch was read (a
// mutation's answer) is read when asked.
func TestAppWebhooksReadEachAppsIndex(t *testing.T) {
	store, want := webhookStore(t, 1600, 400) // 4 each
	ids := func(hooks []*model.Webhook) []string {
		out := []string{}
		for _, h := range hooks {
			out = append(out, h.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		scopes []string
		see    func(app string) []string
	}{
		{"admin", []string{authz.ScopeWebhooksRead, authz.ScopeAppsRead}, func(app string) []string { return want[app] }},
		{"app", []string{authz.ScopeWebhooksRead}, func(app string) []string {
			if app == "app_1" {
				return want[app]
			}
			return []string{}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spy := &listSpy{Reader: store}
			r := &resolver{reads: &authz.Reads{Auth: &oauth.Authenticator{}, Webhooks: &authz.Webhooks{Deps: authz.Deps{Store: spy}}}}
			ctx := context.WithValue(withBatch(t.Context()), principalKey{}, oauth.Principal{Tenant: "t1", AppID: "app_1", Scopes: tc.scopes})
			apps := []*model.App{{ID: "app_1"}, {ID: "app_2"}, {ID: "app_399"}, {ID: "app_none"}}
			r.withWebhooks(ctx, apps...)
			two := 2
			for i, a := range apps {
				first := (*int)(nil)
				if i == 2 {
					first = &two
				}
				hooks, err := a.Webhooks(first)
				if err != nil {
					t.Fatal(err)
				}
				w := tc.see(a.ID)
				if w == nil {
					w = []string{}
				}
				if first != nil {
					w = w[:min(len(w), *first)]
				}
				if got := ids(hooks); !slices.Equal(got, w) {
					t.Fatalf("%s: %v, want %v", a.ID, got, w)
				}
			}
			late := &model.App{ID: "app_3"}
			r.withWebhooks(ctx, late)
			hooks, err := late.Webhooks(nil)
			if w := tc.see("app_3"); err != nil || !slices.Equal(ids(hooks), w) {
				t.Fatalf("an app added later: %v, %v; want %v", ids(hooks), err, w)
			}
			// One page of the tenant's list at most (it does not end
			// within it: 1,600 webhooks), then the apps' indexes.
			tenantReads := 0
			for i, o := range spy.owners {
				if o == "" {
					tenantReads++
					if i != 0 || spy.limits[i] > 500 {
						t.Fatalf("the tenant's webhooks were listed beyond one first page: lists of %q, limits %v", spy.owners, spy.limits)
					}
				}
			}
			if len(spy.owners)-tenantReads < 1 {
				t.Fatalf("the apps' indexes were not read: lists of %q", spy.owners)
			}
		})
	}
}

// TestAppWebhooksOfASmallTenantInOneRead: when the tenant's webhooks fit
// in the first page AppWebhooks reads (500), App.webhooks of several apps
// is that one read, each app answering its own, oldest first, at most
// first, not a read of each app's index (a query each on PostgreSQL).
func TestAppWebhooksOfASmallTenantInOneRead(t *testing.T) {
	store, want := webhookStore(t, 40, 10)
	spy := &listSpy{Reader: store}
	reads := &authz.Reads{Auth: &oauth.Authenticator{}, Webhooks: &authz.Webhooks{Deps: authz.Deps{Store: spy}}}
	p := oauth.Principal{Tenant: "t1", AppID: "app_1", Scopes: []string{authz.ScopeWebhooksRead, authz.ScopeAppsRead}}
	got, err := reads.AppWebhooks(t.Context(), p, []string{"app_1", "app_2", "app_9", "app_none", "app_2"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"app_1", "app_2", "app_9", "app_none"} {
		var ids []string
		for _, h := range got[app] {
			ids = append(ids, h.ID)
		}
		w := want[app][:min(len(want[app]), 3)]
		if !slices.Equal(ids, w) || got[app] == nil {
			t.Errorf("%s: %v, want %v", app, ids, w)
		}
	}
	if !slices.Equal(spy.owners, []string{""}) {
		t.Errorf("lists of %q; want one of the tenant's", spy.owners)
	}
}

// webhookStore is a memory store holding n webhooks of tenant t1, spread
// over apps apps (app_0, app_1, …) in turn, oldest first, and each app's
// webhook ids in that order.
func webhookStore(t *testing.T, n, apps int) (*memory.Store, map[string][]string) {
	t.Helper()
	store := memory.New()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	want := map[string][]string{}
	err := store.Update(t.Context(), events.Control, 1, func(tx projections.Tx) error {
		for i := range n {
			app, id := fmt.Sprintf("app_%d", i%apps), fmt.Sprintf("wh_%04d", i)
			want[app] = append(want[app], id)
			if err := projections.Apply(tx, projectionstest.WebhookCreated("t1", id, app, t0.Add(time.Duration(i)*time.Second), uint64(i+1))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return store, want
}
