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
