package authz

import "context"

// BuiltinCatalog is the scope catalog every tenant starts with: the
// built-in scopes. Tenant scopes (API.md "Scope and event-type catalogs")
// extend it.
type BuiltinCatalog struct{}

var _ ScopeCatalog = BuiltinCatalog{}

// LookupScope implements ScopeCatalog.
func (BuiltinCatalog) LookupScope(_ context.Context, _, name string) (Scope, bool, error) {
	for _, s := range BuiltinScopes {
		if s.Name == name {
			return s, true, nil
		}
	}
	return Scope{}, false, nil
}
