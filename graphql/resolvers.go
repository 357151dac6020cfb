package graphql

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/graphql/generated"
	"github.com/gatehouse/gatehouse/graphql/model"
)

// resolver answers every field through its REST twin (bridge.go).
type resolver struct {
	router http.Handler
	// reads are the list reads, called without the bridge (views.go).
	reads *authz.Reads
}

var _ generated.ResolverRoot = (*resolver)(nil)

func (r *resolver) Credential() generated.CredentialResolver { return credentialResolver{r} }
func (r *resolver) Mutation() generated.MutationResolver     { return mutationResolver{r} }
func (r *resolver) Query() generated.QueryResolver           { return queryResolver{r} }
func (r *resolver) Webhook() generated.WebhookResolver       { return webhookResolver{r} }

func (r *resolver) get(ctx context.Context, path string, q url.Values, out any) error {
	return call(ctx, r.router, restCall{method: http.MethodGet, path: path, query: q}, out)
}

// listPage is the REST list answer (API.md "Conventions").
type listPage[T any] struct {
	Items      []*T   `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// pageQuery is ?limit=&cursor= of a connection's first and after; the
// REST handler validates them (limit 1–500).
func pageQuery(first *int, after *string) url.Values {
	q := url.Values{}
	if first != nil {
		q.Set("limit", strconv.Itoa(*first))
	}
	if after != nil && *after != "" {
		q.Set("cursor", *after)
	}
	return q
}

// list reads one page of a REST collection.
func list[T any](ctx context.Context, r *resolver, path string, q url.Values) ([]*T, *model.PageInfo, error) {
	var pg listPage[T]
	if err := r.get(ctx, path, q, &pg); err != nil {
		return nil, nil, err
	}
	if pg.Items == nil {
		pg.Items = []*T{}
	}
	return pg.Items, pageInfo(pg.NextCursor), nil
}

func pageInfo(next string) *model.PageInfo {
	if next == "" {
		return &model.PageInfo{}
	}
	return &model.PageInfo{EndCursor: &next, HasNextPage: true}
}

// seg is id as one path segment of an inner request. An empty id names
// nothing (it would make the collection's path): not found, like an id
// that names nothing.
func seg(id string) (string, error) {
	if id == "" {
		return "", codedError("not_found", "an empty id names nothing")
	}
	return url.PathEscape(id), nil
}

type queryResolver struct{ *resolver }

func (r queryResolver) Apps(ctx context.Context, first *int, after *string) (*model.AppConnection, error) {
	return r.listApps(ctx, first, after)
}

func (r queryResolver) App(ctx context.Context, id string) (*model.App, error) {
	id, err := seg(id)
	if err != nil {
		return nil, err
	}
	var app model.App
	if err := r.get(ctx, "/v1/platform/apps/"+id, nil, &app); err != nil {
		return nil, err
	}
	r.withWebhooks(ctx, &app)
	return &app, nil
}

func (r queryResolver) Scopes(ctx context.Context, first *int, after *string) (*model.ScopeConnection, error) {
	nodes, pi, err := list[model.ScopeEntry](ctx, r.resolver, "/v1/platform/scopes", pageQuery(first, after))
	if err != nil {
		return nil, err
	}
	return &model.ScopeConnection{Nodes: nodes, PageInfo: pi}, nil
}

func (r queryResolver) EventTypes(ctx context.Context, first *int, after *string) (*model.EventTypeConnection, error) {
	nodes, pi, err := list[model.EventTypeEntry](ctx, r.resolver, "/v1/platform/event-types", pageQuery(first, after))
	if err != nil {
		return nil, err
	}
	return &model.EventTypeConnection{Nodes: nodes, PageInfo: pi}, nil
}

func (r queryResolver) Webhooks(ctx context.Context, first *int, after *string) (*model.WebhookConnection, error) {
	nodes, next, err := r.webhooksPage(ctx, first, deref(after))
	if err != nil {
		return nil, err
	}
	return &model.WebhookConnection{Nodes: nodes, PageInfo: pageInfo(next)}, nil
}

func (r queryResolver) Webhook(ctx context.Context, id string) (*model.Webhook, error) {
	id, err := seg(id)
	if err != nil {
		return nil, err
	}
	var h model.Webhook
	if err := r.get(ctx, "/v1/webhooks/"+id, nil, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// AuditEvents is the feed; its page ends at next_after.
func (r queryResolver) AuditEvents(ctx context.Context, after *int64, first *int, typ, stream *string) (*model.AuditEventConnection, error) {
	q := url.Values{}
	if after != nil {
		q.Set("after", strconv.FormatInt(*after, 10))
	}
	if first != nil {
		q.Set("limit", strconv.Itoa(*first))
	}
	if typ != nil {
		q.Set("type", *typ)
	}
	if stream != nil {
		q.Set("stream", *stream)
	}
	var pg struct {
		Items     []*model.AuditEvent `json:"items"`
		NextAfter int64               `json:"next_after"`
	}
	if err := r.get(ctx, "/v1/platform/events", q, &pg); err != nil {
		return nil, err
	}
	if pg.Items == nil {
		pg.Items = []*model.AuditEvent{}
	}
	limit := 50
	if first != nil {
		limit = *first
	}
	next := strconv.FormatInt(pg.NextAfter, 10)
	return &model.AuditEventConnection{Nodes: pg.Items, PageInfo: &model.PageInfo{EndCursor: &next, HasNextPage: len(pg.Items) == limit}}, nil
}

func (r queryResolver) Credentials(ctx context.Context, first *int, after *string) (*model.CredentialConnection, error) {
	nodes, pi, err := list[model.Credential](ctx, r.resolver, "/v1/credentials", pageQuery(first, after))
	if err != nil {
		return nil, err
	}
	return &model.CredentialConnection{Nodes: nodes, PageInfo: pi}, nil
}

func (r queryResolver) Credential(ctx context.Context, id string) (*model.Credential, error) {
	id, err := seg(id)
	if err != nil {
		return nil, err
	}
	var c model.Credential
	if err := r.get(ctx, "/v1/credentials/"+id, nil, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

func (r queryResolver) CredentialsHealth(ctx context.Context) (*model.CredentialsHealth, error) {
	var h model.CredentialsHealth
	if err := r.get(ctx, "/v1/credentials/health", nil, &h); err != nil {
		return nil, err
	}
	if h.Attention == nil {
		h.Attention = []*model.CredentialHealth{}
	}
	return &h, nil
}

// withWebhooks gives each app the loader of its App.webhooks: the first
// app whose webhooks the operation selects reads the caller's webhooks
// once (GET /v1/webhooks's read, page by page, views.go), every other app
// of the answer takes its own from that read. The field is a method of
// the model, resolved in line (no goroutine per app).
func (r *resolver) withWebhooks(ctx context.Context, apps ...*model.App) {
	b := batchOf(ctx)
	if b == nil {
		b = &batch{}
	}
	load := func(app *model.App) ([]*model.Webhook, error) {
		byApp, err := b.webhooks(ctx, r)
		if err != nil {
			return nil, own(err)
		}
		hooks := byApp[app.ID]
		if hooks == nil {
			hooks = []*model.Webhook{}
		}
		return hooks, nil
	}
	for _, a := range apps {
		a.SetWebhooks(load)
	}
}

// own is a copy of a shared error (the batch's, given to every app):
// gqlgen sets the path of each field's error on the error itself.
func own(err error) error {
	if ge, ok := err.(*gqlerror.Error); ok {
		c := *ge
		return &c
	}
	return err
}

type webhookResolver struct{ *resolver }

func (r webhookResolver) Deliveries(ctx context.Context, h *model.Webhook, status *string, first *int, after *string) (*model.DeliveryConnection, error) {
	q := pageQuery(first, after)
	if status != nil {
		q.Set("status", *status)
	}
	nodes, pi, err := list[model.Delivery](ctx, r.resolver, "/v1/webhooks/"+url.PathEscape(h.ID)+"/deliveries", q)
	if err != nil {
		return nil, err
	}
	return &model.DeliveryConnection{Nodes: nodes, PageInfo: pi}, nil
}

type credentialResolver struct{ *resolver }

func (r credentialResolver) Health(ctx context.Context, c *model.Credential) (*model.CredentialHealth, error) {
	var h model.CredentialHealth
	if err := r.get(ctx, "/v1/credentials/"+url.PathEscape(c.ID)+"/health", nil, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// batch is the per-request loader of App.webhooks: one read of the
// caller's webhooks, grouped by app, whatever the number of apps asking.
type batch struct {
	once  sync.Once
	byApp map[string][]*model.Webhook
	err   error
}

type batchKey struct{}

func withBatch(ctx context.Context) context.Context {
	return context.WithValue(ctx, batchKey{}, &batch{})
}

func batchOf(ctx context.Context) *batch {
	b, _ := ctx.Value(batchKey{}).(*batch)
	return b
}

// webhookPage is the largest page of GET /v1/webhooks.
const webhookPage = 500

func (b *batch) webhooks(ctx context.Context, r *resolver) (map[string][]*model.Webhook, error) {
	b.once.Do(func() {
		b.byApp = map[string][]*model.Webhook{}
		cursor, limit := "", webhookPage
		for {
			var hooks []*model.Webhook
			if hooks, cursor, b.err = r.webhooksPage(ctx, &limit, cursor); b.err != nil {
				return
			}
			for _, h := range hooks {
				b.byApp[h.AppID] = append(b.byApp[h.AppID], h)
			}
			if cursor == "" {
				return
			}
		}
	})
	return b.byApp, b.err
}

type mutationResolver struct{ *resolver }

func (r mutationResolver) post(ctx context.Context, path string, body any, idem *string, out any) error {
	if body == nil {
		body = map[string]any{}
	}
	return call(ctx, r.router, restCall{method: http.MethodPost, path: path, body: body, idem: idem}, out)
}

// withSecret is an App answer with the secret a create shows once.
type withSecret struct {
	model.App
	ClientSecret *string `json:"client_secret"`
}

func (r mutationResolver) CreateApp(ctx context.Context, input map[string]any, idem *string) (*model.AppWithSecret, error) {
	var a withSecret
	if err := r.post(ctx, "/v1/platform/apps", input, idem, &a); err != nil {
		return nil, err
	}
	r.withWebhooks(ctx, &a.App)
	return &model.AppWithSecret{App: &a.App, ClientSecret: a.ClientSecret}, nil
}

func (r mutationResolver) UpdateApp(ctx context.Context, id string, input map[string]any, ifMatch *int) (*model.AppWithSecret, error) {
	id, err := seg(id)
	if err != nil {
		return nil, err
	}
	var a withSecret
	rc := restCall{method: http.MethodPatch, path: "/v1/platform/apps/" + id, body: input, ifMatch: ifMatch}
	if err := call(ctx, r.router, rc, &a); err != nil {
		return nil, err
	}
	r.withWebhooks(ctx, &a.App)
	return &model.AppWithSecret{App: &a.App, ClientSecret: a.ClientSecret}, nil
}

func (r mutationResolver) RequestScopes(ctx context.Context, appID string, scopes []string, idem *string) (*model.App, error) {
	appID, err := seg(appID)
	if err != nil {
		return nil, err
	}
	var a model.App
	if err := r.post(ctx, "/v1/platform/apps/"+appID+"/scope-requests", map[string]any{"scopes": scopes}, idem, &a); err != nil {
		return nil, err
	}
	r.withWebhooks(ctx, &a)
	return &a, nil
}

func (r mutationResolver) DecideScope(ctx context.Context, appID string, input map[string]any, idem *string) (*model.App, error) {
	appID, err := seg(appID)
	if err != nil {
		return nil, err
	}
	var a model.App
	if err := r.post(ctx, "/v1/platform/apps/"+appID+"/scope-decisions", input, idem, &a); err != nil {
		return nil, err
	}
	r.withWebhooks(ctx, &a)
	return &a, nil
}

func (r mutationResolver) RotateSecret(ctx context.Context, appID string, grace *int, idem *string) (*model.RotatedSecret, error) {
	appID, err := seg(appID)
	if err != nil {
		return nil, err
	}
	body := map[string]any{}
	if grace != nil {
		body["grace_period_seconds"] = *grace
	}
	var s model.RotatedSecret
	if err := r.post(ctx, "/v1/platform/apps/"+appID+"/secrets", body, idem, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

func (r mutationResolver) CreateWebhook(ctx context.Context, input map[string]any, idem *string) (*model.WebhookWithSecret, error) {
	var h struct {
		model.Webhook
		Secret string `json:"secret"`
	}
	if err := r.post(ctx, "/v1/webhooks", input, idem, &h); err != nil {
		return nil, err
	}
	return &model.WebhookWithSecret{Webhook: &h.Webhook, Secret: h.Secret}, nil
}

func (r mutationResolver) RetryDelivery(ctx context.Context, webhookID, deliveryID string, idem *string) (*model.Delivery, error) {
	h, err := seg(webhookID)
	if err != nil {
		return nil, err
	}
	d0, err := seg(deliveryID)
	if err != nil {
		return nil, err
	}
	var d model.Delivery
	path := "/v1/webhooks/" + h + "/deliveries/" + d0 + "/retry"
	if err := r.post(ctx, path, nil, idem, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

func (r mutationResolver) PublishEvent(ctx context.Context, input map[string]any, idem *string) (*model.PublishedEvent, error) {
	var e model.PublishedEvent
	if err := r.post(ctx, "/v1/events", input, idem, &e); err != nil {
		return nil, err
	}
	return &e, nil
}
