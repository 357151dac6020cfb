package catalog

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/projections"
)

// Tenant is the catalogs of a tenant: the built-in entries, then the
// tenant's own from the projections.
type Tenant struct {
	Store projections.Reader
}

// LookupScope returns the scope name of tenant's catalog.
func (c *Tenant) LookupScope(ctx context.Context, tenant, name string) (Scope, bool, error) {
	if s, ok := BuiltinScope(name); ok {
		return s, true, nil
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
func (c *Tenant) LookupEventType(ctx context.Context, tenant, name string) (EventType, bool, error) {
	if t, ok := BuiltinEventType(name); ok {
		return t, true, nil
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
func (c *Tenant) EventTypeScope(ctx context.Context, tenant, name string) (string, bool, error) {
	t, ok, err := c.LookupEventType(ctx, tenant, name)
	return t.Scope, ok, err
}
