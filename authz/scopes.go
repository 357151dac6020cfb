package authz

import "github.com/gatehouse/gatehouse/catalog"

// bootstrapAdminScopes is every built-in scope.
func bootstrapAdminScopes() []string {
	out := make([]string, len(catalog.BuiltinScopes))
	for i, s := range catalog.BuiltinScopes {
		out[i] = s.Name
	}
	return out
}

// tenantAdminScopes are the scopes of a tenant's admin app: every
// built-in scope but the reserved ones, i.e. every platform:*, webhooks:*
// and events:publish scope (API.md "Tenants").
func tenantAdminScopes() []string {
	var out []string
	for _, s := range catalog.BuiltinScopes {
		if !catalog.Reserved(s.Name) {
			out = append(out, s.Name)
		}
	}
	return out
}
