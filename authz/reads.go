package authz

import (
	"context"
	"strconv"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// The list reads as functions. GET /v1/platform/apps and GET /v1/webhooks
// are thin callers of listApps and listWebhooks (read the page, encode
// the answer); the GraphQL transport and the console call the same
// functions through Reads, which first does what the routes' middleware
// does for them (oauth.Authenticator.Admit: the caller's platform rate
// budget, then the route's scope). One implementation of who may read
// what: the scope constant, the tenant scoping and the filtering are
// those of the REST route, and so are the problems (a bad limit or
// cursor is the same validation_error). What the in-process callers no
// longer pay: a request through the router, the JSON encoding of the
// answer and its decoding back into structs.

// Scopes of the list reads: the routes' and Reads' one declaration.
const (
	ScopeAppsRead     = "platform:apps:read"
	ScopeWebhooksRead = "webhooks:read"
)

// Reads serves the list reads to in-process callers (GraphQL, the
// console) as the REST routes serve them over HTTP.
type Reads struct {
	Auth     *oauth.Authenticator
	Apps     *Apps
	Webhooks *Webhooks
}

// ListApps is GET /v1/platform/apps?limit=&cursor= for p.
func (r *Reads) ListApps(ctx context.Context, p oauth.Principal, page projections.Page) (Page[AppView], error) {
	if err := r.Auth.Admit(p, ScopeAppsRead); err != nil {
		return Page[AppView]{}, err
	}
	return r.Apps.listApps(ctx, p, page)
}

// ListWebhooks is GET /v1/webhooks?limit=&cursor= for p: the app's own
// subscriptions, the tenant's with platform:apps:read.
func (r *Reads) ListWebhooks(ctx context.Context, p oauth.Principal, page projections.Page) (Page[WebhookView], error) {
	if err := r.Auth.Admit(p, ScopeWebhooksRead); err != nil {
		return Page[WebhookView]{}, err
	}
	return r.Webhooks.listWebhooks(ctx, p, page)
}

// PageOf is the page ?limit= and ?cursor= ask for: no limit is 50; a
// limit outside 1–500 is the list routes' validation_error on "limit".
func PageOf(limit *int, cursor string) (projections.Page, error) {
	page := projections.Page{Limit: 50, After: cursor}
	if limit != nil {
		if *limit < 1 || *limit > 500 {
			return page, badLimit()
		}
		page.Limit = *limit
	}
	return page, nil
}

func badLimit() error {
	return httpapi.Validation(httpapi.FieldError{Field: "limit", Message: "must be an integer from 1 to 500"})
}

// pageFromQuery is PageOf for the query parameters as sent.
func pageFromQuery(limit, cursor string) (projections.Page, error) {
	if limit == "" {
		return PageOf(nil, cursor)
	}
	n, err := strconv.Atoi(limit)
	if err != nil {
		return projections.Page{}, badLimit()
	}
	return PageOf(&n, cursor)
}

// listApps is one page of p's tenant's apps.
func (a *Apps) listApps(ctx context.Context, p oauth.Principal, page projections.Page) (Page[AppView], error) {
	return readPage(ctx, page, func(ctx context.Context, pg projections.Page) ([]projections.App, string, error) {
		return projections.ListApps(ctx, a.Store, p.Tenant, pg)
	}, toAppJSON)
}

// listWebhooks is one page of the webhooks p may read: the tenant's with
// platform:apps:read, else its app's own, read from the index of the
// app's webhooks (projections.ListAppWebhooks), not by filtering the
// tenant's. Both lists are in (created_at, id) order with cursors of the
// same positions, so a cursor answered before the index existed (the
// tenant list's, filtered) goes on where it left off.
func (w *Webhooks) listWebhooks(ctx context.Context, p oauth.Principal, page projections.Page) (Page[WebhookView], error) {
	if p.Has(ScopeAppsRead) {
		return readPage(ctx, page, func(ctx context.Context, pg projections.Page) ([]projections.Webhook, string, error) {
			return projections.ListWebhooks(ctx, w.Store, p.Tenant, pg)
		}, toWebhookJSON)
	}
	return w.appWebhooks(ctx, p.Tenant, p.AppID, page)
}

// appWebhooks is one page of the webhooks of app.
func (w *Webhooks) appWebhooks(ctx context.Context, tenant, app string, page projections.Page) (Page[WebhookView], error) {
	return readPage(ctx, page, func(ctx context.Context, pg projections.Page) ([]projections.Webhook, string, error) {
		return projections.ListAppWebhooks(ctx, w.Store, tenant, app, pg)
	}, toWebhookJSON)
}

// AppWebhooks is App.webhooks of GraphQL for p: at most limit of
// the webhooks of each of apps that p may read (its own app's; any app's
// with platform:apps:read; none of another app's otherwise), by app id,
// oldest first. One admission (Admit: one unit of the platform budget)
// for the whole batch. When several apps are read, one page of the
// tenant's webhooks (appWebhooksPage) comes first: if the tenant's list
// ends within it, it answers every app in one read, where each app's
// index would be a read each (a query each on PostgreSQL); otherwise
// each app's index is read.
func (r *Reads) AppWebhooks(ctx context.Context, p oauth.Principal, apps []string, limit int) (map[string][]WebhookView, error) {
	if err := r.Auth.Admit(p, ScopeWebhooksRead); err != nil {
		return nil, err
	}
	out := make(map[string][]WebhookView, len(apps))
	var read []string
	readable := make(map[string]bool, len(apps))
	for _, app := range apps {
		if _, done := out[app]; done {
			continue
		}
		out[app] = []WebhookView{}
		if app == p.AppID || p.Has(ScopeAppsRead) {
			read = append(read, app)
			readable[app] = true
		}
	}
	if len(read) > 1 {
		all, next, err := projections.ListWebhooks(ctx, r.Webhooks.Store, p.Tenant, projections.Page{Limit: appWebhooksPage})
		if err != nil {
			return nil, err
		}
		if next == "" {
			for _, h := range all {
				if got := out[h.AppID]; readable[h.AppID] && len(got) < limit {
					out[h.AppID] = append(got, toWebhookJSON(h))
				}
			}
			return out, nil
		}
	}
	for _, app := range read {
		pg, err := r.Webhooks.appWebhooks(ctx, p.Tenant, app, projections.Page{Limit: limit})
		if err != nil {
			return nil, err
		}
		out[app] = pg.Items
	}
	return out, nil
}

// appWebhooksPage is the page of the tenant's webhooks AppWebhooks reads
// first: a tenant with at most this many is answered in one read.
const appWebhooksPage = 500
