package graphql

import (
	"context"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/graphql/model"
	"github.com/gatehouse/gatehouse/httpapi"
)

// The list reads (apps, webhooks) do not go through the bridge: their
// resolvers call authz.Reads, the functions GET /v1/platform/apps and GET
// /v1/webhooks are thin callers of (the same rate budget, scope check,
// tenant scoping, filtering and problems), and map the views into the
// schema's models field by field instead of encoding them as JSON and
// decoding that back. Commands and the other reads still take the bridge.

// readProblem is an authz read's error as the field's error, the way the
// bridge turns the same problem answered over HTTP (problemError). An
// error that is no problem is mapped as the REST API maps it
// (httpapi.ProblemOf): the log or the projections' store out of reach is
// unavailable (a 503 there, a retry here); anything else is internal
// (internalError: hidden from the caller, logged).
func readProblem(err error) error {
	p := httpapi.ProblemOf(err)
	if p.Code == httpapi.CodeInternal {
		return internalError(err)
	}
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	ext := map[string]any{"code": p.Code, "status": p.Status}
	if len(p.Errors) > 0 {
		ext["errors"] = p.Errors
	}
	return &gqlerror.Error{Message: msg, Extensions: ext}
}

func (r *resolver) listApps(ctx context.Context, first *int, after *string) (*model.AppConnection, error) {
	page, err := authz.PageOf(first, deref(after))
	if err != nil {
		return nil, pageArgs(readProblem(err))
	}
	pg, err := r.reads.ListApps(ctx, principalOf(ctx), page)
	if err != nil {
		return nil, pageArgs(readProblem(err))
	}
	nodes := make([]*model.App, len(pg.Items))
	for i := range pg.Items {
		nodes[i] = appModel(&pg.Items[i])
	}
	r.withWebhooks(ctx, nodes...)
	return &model.AppConnection{Nodes: nodes, PageInfo: pageInfo(pg.NextCursor)}, nil
}

// webhooksPage is one page of GET /v1/webhooks as models.
func (r *resolver) webhooksPage(ctx context.Context, first *int, after string) ([]*model.Webhook, string, error) {
	page, err := authz.PageOf(first, after)
	if err != nil {
		return nil, "", pageArgs(readProblem(err))
	}
	pg, err := r.reads.ListWebhooks(ctx, principalOf(ctx), page)
	if err != nil {
		return nil, "", pageArgs(readProblem(err))
	}
	nodes := make([]*model.Webhook, len(pg.Items))
	for i := range pg.Items {
		nodes[i] = webhookModel(&pg.Items[i])
	}
	return nodes, pg.NextCursor, nil
}

func deref[T any](p *T) (v T) {
	if p != nil {
		v = *p
	}
	return v
}

// orNil is s, or nil for "" (a member the REST answer omits when empty).
func orNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// appModel is the App object as the schema's model: what decoding its
// REST JSON gave.
func appModel(a *authz.AppView) *model.App {
	m := &model.App{
		ID: a.ID, AppSettings: a.AppSettings, Metadata: model.JSON(a.Metadata),
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, CreatedBy: a.CreatedBy, Version: int(a.Version),
		Scopes:               make([]*model.ScopeGrant, len(a.Scopes)),
		Grants:               make([]*model.GrantApproval, len(a.Grants)),
		RedirectURIApprovals: make([]*model.RedirectURIApproval, len(a.RedirectURIApprovals)),
		Secrets:              make([]*model.SecretInfo, len(a.Secrets)),
	}
	for i, s := range a.Scopes {
		m.Scopes[i] = &model.ScopeGrant{Scope: s.Scope, Status: string(s.Status), DecidedBy: orNil(s.DecidedBy), DecidedAt: s.DecidedAt,
			Reason: orNil(s.Reason), Approvals: s.Approvals}
	}
	for i, g := range a.Grants {
		m.Grants[i] = &model.GrantApproval{GrantType: g.GrantType, Status: string(g.Status), DecidedBy: orNil(g.DecidedBy),
			DecidedAt: g.DecidedAt, Reason: orNil(g.Reason), Approvals: g.Approvals}
	}
	for i, u := range a.RedirectURIApprovals {
		m.RedirectURIApprovals[i] = &model.RedirectURIApproval{RedirectURI: u.RedirectURI, Status: string(u.Status),
			DecidedBy: orNil(u.DecidedBy), DecidedAt: u.DecidedAt, Reason: orNil(u.Reason), Approvals: u.Approvals}
	}
	for i, s := range a.Secrets {
		m.Secrets[i] = &model.SecretInfo{ID: s.ID, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt}
	}
	return m
}

// webhookModel is the Webhook object as the schema's model.
func webhookModel(h *authz.WebhookView) *model.Webhook {
	return &model.Webhook{ID: h.ID, AppID: h.AppID, URL: h.URL, Events: h.Events, Description: h.Description,
		Status: string(h.Status), DisabledReason: orNil(h.DisabledReason), CreatedAt: h.CreatedAt, UpdatedAt: h.UpdatedAt,
		Version: int(h.Version)}
}
