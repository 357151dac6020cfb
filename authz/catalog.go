package authz

import (
	"context"

	"github.com/gatehouse/gatehouse/catalog"
)

// ScopeCatalog tells whether a scope exists in a tenant's catalog and
// whether it needs approval (catalog.Tenant).
type ScopeCatalog interface {
	LookupScope(ctx context.Context, tenant, name string) (catalog.Scope, bool, error)
}

var _ ScopeCatalog = (*catalog.Tenant)(nil)

// catalogLookup is a lookup of a tenant's catalog (catalog.Tenant's
// LookupScope, LookupEventType).
type catalogLookup[E any] func(ctx context.Context, tenant, name string) (E, bool, error)

// knownEntry looks name up in tenant's catalog and, when it is not there,
// reports it against field as an unknown what ("scope", "event type").
// ok: found, for the caller's further checks of the entry.
func knownEntry[E any](ctx context.Context, fe *fieldErrs, field, what, tenant, name string, lookup catalogLookup[E]) (E, bool, error) {
	entry, ok, err := lookup(ctx, tenant, name)
	if err == nil && !ok {
		fe.add(field, "unknown %s %q: it is not in the tenant's catalog", what, name)
	}
	return entry, ok, err
}

// requiredEntry is knownEntry for a field that must name an entry: an
// empty one is reported as required.
func requiredEntry[E any](ctx context.Context, fe *fieldErrs, field, what, tenant, name string, lookup catalogLookup[E]) (E, bool, error) {
	if name == "" {
		fe.add(field, "is required")
		var zero E
		return zero, false, nil
	}
	return knownEntry(ctx, fe, field, what, tenant, name, lookup)
}
