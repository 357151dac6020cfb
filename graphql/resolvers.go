package graphql

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/graphql/generated"
	"github.com/gatehouse/gatehouse/graphql/model"
	"github.com/gatehouse/gatehouse/httpapi"
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

// pageArgs names the field errors of a list's page after the
// arguments they came from: the REST query parameters limit and cursor
// (pageQuery, authz.PageOf) are the connection's first and after.
func pageArgs(err error) error {
	ge, ok := err.(*gqlerror.Error)
	if !ok {
		return err
	}
	rename := func(f string) string {
		switch f {
		case "limit":
			return "first"
		case "cursor":
			return "after"
		}
		return f
	}
	switch errs := ge.Extensions["errors"].(type) {
	case []httpapi.FieldError:
		out := make([]httpapi.FieldError, len(errs))
		for i, fe := range errs {
			out[i] = httpapi.FieldError{Field: rename(fe.Field), Message: fe.Message}
		}
		ge.Extensions["errors"] = out
	case []json.RawMessage:
		out := make([]json.RawMessage, len(errs))
		for i, raw := range errs {
			out[i] = raw
			var fe map[string]json.RawMessage
			var field string
			if json.Unmarshal(raw, &fe) != nil || json.Unmarshal(fe["field"], &field) != nil || rename(field) == field {
				continue
			}
			fe["field"], _ = json.Marshal(rename(field))
			if b, err := json.Marshal(fe); err == nil {
				out[i] = b
			}
		}
		ge.Extensions["errors"] = out
	}
	return ge
}

// list reads one page of a REST collection.
func list[T any](ctx context.Context, r *resolver, path string, q url.Values) ([]*T, *model.PageInfo, error) {
	var pg listPage[T]
	if err := r.get(ctx, path, q, &pg); err != nil {
		return nil, nil, pageArgs(err)
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

// do makes the inner request rc, each %s of its path one of ids as one
// path segment (seg), and answers the REST answer decoded into a new V.
func do[V any](ctx context.Context, r *resolver, rc restCall, ids ...string) (*V, error) {
	if len(ids) > 0 {
		segs := make([]any, len(ids))
		for i, id := range ids {
			s, err := seg(id)
			if err != nil {
				return nil, err
			}
			segs[i] = s
		}
		// An id that spells a route of its own beside the parameter's
		// (credential(id: "health")) names nothing (httpapi.RoutedAs).
		path := fmt.Sprintf(rc.path, segs...)
		if !httpapi.RoutedAs(r.router, rc.method, path, strings.ReplaceAll(rc.path, "%s", ":")) {
			return nil, &gqlerror.Error{Message: fmt.Sprintf("%q names nothing", ids[len(ids)-1]),
				Extensions: map[string]any{"code": httpapi.CodeNotFound, "status": http.StatusNotFound}}
		}
		rc.path = path
	}
	var v V
	if err := call(ctx, r.router, rc, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// read is GET path (do: its %s the ids).
func read[V any](ctx context.Context, r *resolver, path string, ids ...string) (*V, error) {
	return do[V](ctx, r, restCall{method: http.MethodGet, path: path}, ids...)
}

type queryResolver struct{ *resolver }

func (r queryResolver) Apps(ctx context.Context, first *int, after *string) (*model.AppConnection, error) {
	return r.listApps(ctx, first, after)
}

func (r queryResolver) App(ctx context.Context, id string) (*model.App, error) {
	a, err := read[model.App](ctx, r.resolver, "/v1/platform/apps/%s", id)
	return r.app(ctx, a, err)
}

// app is an answer of one app (a read's or a change's), its webhooks
// loaded on demand (withWebhooks).
func (r *resolver) app(ctx context.Context, a *model.App, err error) (*model.App, error) {
	if err != nil {
		return nil, err
	}
	r.withWebhooks(ctx, a)
	return a, nil
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
	return read[model.Webhook](ctx, r.resolver, "/v1/webhooks/%s", id)
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
		return nil, pageArgs(err)
	}
	if pg.Items == nil {
		pg.Items = []*model.AuditEvent{}
	}
	// The REST feed's rule: a page may be short (even empty: the server
	// reads a bounded stretch of the log) or a few items long (a packed
	// message is never split) while next_after moves on; the feed has
	// ended, for now, when next_after is after.
	next := strconv.FormatInt(pg.NextAfter, 10)
	return &model.AuditEventConnection{Nodes: pg.Items, PageInfo: &model.PageInfo{EndCursor: &next, HasNextPage: pg.NextAfter != deref(after)}}, nil
}

func (r queryResolver) Credentials(ctx context.Context, first *int, after *string) (*model.CredentialConnection, error) {
	nodes, pi, err := list[model.Credential](ctx, r.resolver, "/v1/credentials", pageQuery(first, after))
	if err != nil {
		return nil, err
	}
	return &model.CredentialConnection{Nodes: nodes, PageInfo: pi}, nil
}

// credentialRead is GET /v1/credentials/{id}: an OAuth credential, or a
// certificate credential ("type": "certificate"), an object of its own.
type credentialRead struct {
	model.Credential
	Type string `json:"type"`
}

// Credential reads an OAuth credential, the one the schema's Credential
// models (and Query.credentials lists, as GET /v1/credentials does). A
// certificate credential's id names none: decoded as a Credential it was
// answered with its non-null fields made up ("provider": "", "status":
// "", "grant_type": "") and its health not_found.
func (r queryResolver) Credential(ctx context.Context, id string) (*model.Credential, error) {
	c, err := read[credentialRead](ctx, r.resolver, "/v1/credentials/%s", id)
	if err != nil {
		return nil, err
	}
	if c.Type != "" && c.Type != "oauth2" {
		return nil, &gqlerror.Error{Message: fmt.Sprintf("%q is a %s credential, not an OAuth credential (read it with GET /v1/credentials/{id})", id, c.Type),
			Extensions: map[string]any{"code": httpapi.CodeNotFound, "status": http.StatusNotFound}}
	}
	return &c.Credential, nil
}

func (r queryResolver) CredentialsHealth(ctx context.Context) (*model.CredentialsHealth, error) {
	h, err := read[model.CredentialsHealth](ctx, r.resolver, "/v1/credentials/health")
	if err == nil && h.Attention == nil {
		h.Attention = []*model.CredentialHealth{}
	}
	return h, err
}

// withWebhooks gives each app the loader of its App.webhooks: the first
// app whose webhooks the operation selects reads, in one batch
// (authz.Reads.AppWebhooks: one admission), the webhooks of every app of
// the answer not read yet, each app's from the index of its own webhooks
// (never the tenant's every webhook); each app then takes its own, at most
// first of them (authz.PageOf, a list's rule: 1-500, default 50; a first
// out of range is the lists' validation_error, before anything is read).
// The field is a method of the model, resolved in line (no goroutine per
// app).
func (r *resolver) withWebhooks(ctx context.Context, apps ...*model.App) {
	b := batchOf(ctx)
	if b == nil {
		b = &batch{}
	}
	b.add(apps)
	load := func(app *model.App, first *int) ([]*model.Webhook, error) {
		page, err := authz.PageOf(first, "")
		if err != nil {
			return nil, pageArgs(readProblem(err))
		}
		hooks, err := b.webhooks(ctx, r, app.ID)
		if err != nil {
			return nil, own(err)
		}
		return hooks[:min(len(hooks), page.Limit)], nil
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
	return read[model.CredentialHealth](ctx, r.resolver, "/v1/credentials/%s/health", c.ID)
}

// batch is the per-request loader of App.webhooks: the apps of the
// answers (add), whose webhooks are read together when the first of them
// is asked for, whatever the number of apps asking.
type batch struct {
	mu      sync.Mutex
	pending []string // apps added, not read yet
	byApp   map[string][]*model.Webhook
	err     error // the read's failure, every app's answer from then on
}

// add registers apps whose webhooks may be asked for.
func (b *batch) add(apps []*model.App) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, a := range apps {
		if _, read := b.byApp[a.ID]; !read {
			b.pending = append(b.pending, a.ID)
		}
	}
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

// webhooks returns app's webhooks (at most webhookPage of them, the most
// a first may ask), reading those of every pending app first if app's
// are not read yet.
func (b *batch) webhooks(ctx context.Context, r *resolver, app string) ([]*model.Webhook, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return nil, b.err
	}
	if hooks, read := b.byApp[app]; read {
		return hooks, nil
	}
	if b.byApp == nil {
		b.byApp = map[string][]*model.Webhook{}
	}
	apps := append(b.pending, app)
	b.pending = nil
	views, err := r.reads.AppWebhooks(ctx, principalOf(ctx), apps, webhookPage)
	if err != nil {
		b.err = readProblem(err)
		return nil, b.err
	}
	for _, id := range apps {
		hooks := make([]*model.Webhook, len(views[id]))
		for i := range views[id] {
			hooks[i] = webhookModel(&views[id][i])
		}
		b.byApp[id] = hooks
	}
	return b.byApp[app], nil
}

type mutationResolver struct{ *resolver }

// send is POST path (do: its %s the ids) with body (nil: {}) and the
// mutation's idempotency_key.
func send[V any](ctx context.Context, r *resolver, path string, body any, idem *string, ids ...string) (*V, error) {
	if body == nil {
		body = map[string]any{}
	}
	return do[V](ctx, r, restCall{method: http.MethodPost, path: path, body: body, idem: idem}, ids...)
}

// withSecret is an App answer with the secret a create shows once.
type withSecret struct {
	model.App
	ClientSecret *string `json:"client_secret"`
}

func (r mutationResolver) CreateApp(ctx context.Context, input map[string]any, idem *string) (*model.AppWithSecret, error) {
	a, err := send[withSecret](ctx, r.resolver, "/v1/platform/apps", input, idem)
	return r.withSecret(ctx, a, err)
}

func (r mutationResolver) UpdateApp(ctx context.Context, id string, input map[string]any, ifMatch *int) (*model.AppWithSecret, error) {
	a, err := do[withSecret](ctx, r.resolver, restCall{method: http.MethodPatch, path: "/v1/platform/apps/%s", body: input, ifMatch: ifMatch}, id)
	return r.withSecret(ctx, a, err)
}

// withSecret is a create's or update's answer: the app (its webhooks
// loaded on demand) and the secret shown once, if any.
func (r mutationResolver) withSecret(ctx context.Context, a *withSecret, err error) (*model.AppWithSecret, error) {
	if err != nil {
		return nil, err
	}
	r.withWebhooks(ctx, &a.App)
	return &model.AppWithSecret{App: &a.App, ClientSecret: a.ClientSecret}, nil
}

func (r mutationResolver) RequestScopes(ctx context.Context, appID string, scopes []string, idem *string) (*model.App, error) {
	a, err := send[model.App](ctx, r.resolver, "/v1/platform/apps/%s/scope-requests", map[string]any{"scopes": scopes}, idem, appID)
	return r.app(ctx, a, err)
}

func (r mutationResolver) DecideScope(ctx context.Context, appID string, input map[string]any, idem *string) (*model.App, error) {
	a, err := send[model.App](ctx, r.resolver, "/v1/platform/apps/%s/scope-decisions", input, idem, appID)
	return r.app(ctx, a, err)
}

func (r mutationResolver) RotateSecret(ctx context.Context, appID string, grace *int, idem *string) (*model.RotatedSecret, error) {
	body := map[string]any{}
	if grace != nil {
		body["grace_period_seconds"] = *grace
	}
	return send[model.RotatedSecret](ctx, r.resolver, "/v1/platform/apps/%s/secrets", body, idem, appID)
}

func (r mutationResolver) CreateWebhook(ctx context.Context, input map[string]any, idem *string) (*model.WebhookWithSecret, error) {
	h, err := send[struct {
		model.Webhook
		Secret string `json:"secret"`
	}](ctx, r.resolver, "/v1/webhooks", input, idem)
	if err != nil {
		return nil, err
	}
	return &model.WebhookWithSecret{Webhook: &h.Webhook, Secret: h.Secret}, nil
}

func (r mutationResolver) RetryDelivery(ctx context.Context, webhookID, deliveryID string, idem *string) (*model.Delivery, error) {
	return send[model.Delivery](ctx, r.resolver, "/v1/webhooks/%s/deliveries/%s/retry", nil, idem, webhookID, deliveryID)
}

func (r mutationResolver) PublishEvent(ctx context.Context, input map[string]any, idem *string) (*model.PublishedEvent, error) {
	return send[model.PublishedEvent](ctx, r.resolver, "/v1/events", input, idem)
}
