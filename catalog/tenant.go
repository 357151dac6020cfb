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

// ScopeOf is a tenant's scope document as a catalog entry.
func ScopeOf(s projections.CatalogScope) Scope {
	return Scope{Name: s.Name, Description: s.Description, RequiresApproval: s.RequiresApproval, ApprovalsRequired: s.ApprovalsRequired}
}

// EventTypeOf is a tenant's event-type document as a catalog entry.
func EventTypeOf(t projections.CatalogEventType) EventType {
	return EventType{Name: t.Name, Description: t.Description, Scope: t.Scope}
}

// LookupScope returns the scope name of tenant's catalog.
func (c *Tenant) LookupScope(ctx context.Context, tenant, name string) (Scope, bool, error) {
	return lookup(name, BuiltinScope, func() (projections.CatalogScope, error) {
		return projections.GetCatalogScope(ctx, c.Store, tenant, name)
	}, ScopeOf)
}

// LookupEventType returns the event type name of tenant's catalog.
func (c *Tenant) LookupEventType(ctx context.Context, tenant, name string) (EventType, bool, error) {
	return lookup(name, BuiltinEventType, func() (projections.CatalogEventType, error) {
		return projections.GetCatalogEventType(ctx, c.Store, tenant, name)
	}, EventTypeOf)
}

// EventTypeScope is LookupEventType's scope: the webhooks dispatcher's
// question.
func (c *Tenant) EventTypeScope(ctx context.Context, tenant, name string) (string, bool, error) {
	t, ok, err := c.LookupEventType(ctx, tenant, name)
	return t.Scope, ok, err
}

// lookup is the built-in entry name, else the tenant's document (get) as
// an entry; ok false when neither exists.
func lookup[E, D any](name string, builtin func(string) (E, bool), get func() (D, error), entry func(D) E) (E, bool, error) {
	if e, ok := builtin(name); ok {
		return e, true, nil
	}
	var zero E
	d, err := get()
	if errors.Is(err, projections.ErrNotFound) {
		return zero, false, nil
	}
	if err != nil {
		return zero, false, err
	}
	return entry(d), true, nil
}
