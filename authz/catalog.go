package authz

import (
	"context"
	"errors"
	"strings"

	"github.com/gatehouse/gatehouse/projections"
)

// ScopeCatalog tells whether a scope exists in a tenant's catalog and
// whether it needs approval.
type ScopeCatalog interface {
	LookupScope(ctx context.Context, tenant, name string) (Scope, bool, error)
}

// EventType is one entry of a tenant's event-type catalog: receiving it
// needs Scope approved for the app.
type EventType struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Scope       string `json:"scope"`
	BuiltIn     bool   `json:"built_in"`
}

// BuiltinEventTypes are in every tenant's event-type catalog (API.md
// "Scope and event-type catalogs"). webhook.test is sent only by the test
// endpoint, to the webhook tested.
var BuiltinEventTypes = []EventType{
	{Name: "app.created", Description: "An app was registered", Scope: "platform:apps:read", BuiltIn: true},
	{Name: "app.updated", Description: "An app's settings changed", Scope: "platform:apps:read", BuiltIn: true},
	{Name: "app.deleted", Description: "An app was deleted", Scope: "platform:apps:read", BuiltIn: true},
	{Name: "app.secret.rotated", Description: "An app's client secret was rotated", Scope: "platform:apps:read", BuiltIn: true},
	{Name: "app.scope.approved", Description: "A scope request of an app was approved", Scope: "platform:apps:read", BuiltIn: true},
	{Name: "app.scope.rejected", Description: "A scope request of an app was rejected", Scope: "platform:apps:read", BuiltIn: true},
	{Name: "app.scope.revoked", Description: "An approved scope of an app was revoked", Scope: "platform:apps:read", BuiltIn: true},
	{Name: "webhook.disabled", Description: "The server disabled a webhook (410 Gone, or failing for days)", Scope: "platform:apps:read", BuiltIn: true},
	{Name: "webhook.test", Description: "Sent by POST /v1/webhooks/{id}/test to the webhook tested", Scope: "webhooks:write", BuiltIn: true},
}

// reservedScope reports whether scope is held only by the bootstrap
// admin: no app may request it, no admin may approve it.
// The catalog reserves the prefix: no tenant defines a scope with it, and
// no event type names one.
func reservedScope(scope string) bool { return strings.HasPrefix(scope, reservedPrefix) }

// reservedPrefix starts the scopes of the bootstrap admin.
const reservedPrefix = "system:"

// TenantCatalog is the catalogs of a tenant: the built-in entries, then
// the tenant's own from the projections.
type TenantCatalog struct {
	Store projections.Reader
}

var _ ScopeCatalog = (*TenantCatalog)(nil)

// LookupScope implements ScopeCatalog.
func (c *TenantCatalog) LookupScope(ctx context.Context, tenant, name string) (Scope, bool, error) {
	for _, s := range BuiltinScopes {
		if s.Name == name {
			return s, true, nil
		}
	}
	s, err := projections.GetCatalogScope(ctx, c.Store, tenant, name)
	if errors.Is(err, projections.ErrNotFound) {
		return Scope{}, false, nil
	}
	if err != nil {
		return Scope{}, false, err
	}
	return Scope{Name: s.Name, Description: s.Description, RequiresApproval: s.RequiresApproval, ApprovalsRequired: s.ApprovalsRequired}, true, nil
}

// LookupEventType returns the event type name of tenant's catalog.
func (c *TenantCatalog) LookupEventType(ctx context.Context, tenant, name string) (EventType, bool, error) {
	for _, t := range BuiltinEventTypes {
		if t.Name == name {
			return t, true, nil
		}
	}
	t, err := projections.GetCatalogEventType(ctx, c.Store, tenant, name)
	if errors.Is(err, projections.ErrNotFound) {
		return EventType{}, false, nil
	}
	if err != nil {
		return EventType{}, false, err
	}
	return EventType{Name: t.Name, Description: t.Description, Scope: t.Scope}, true, nil
}

// EventTypeScope is LookupEventType's scope: the webhooks dispatcher's
// question.
func (c *TenantCatalog) EventTypeScope(ctx context.Context, tenant, name string) (string, bool, error) {
	t, ok, err := c.LookupEventType(ctx, tenant, name)
	return t.Scope, ok, err
}
