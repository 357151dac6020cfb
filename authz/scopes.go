package authz

import "strings"

// Scope is one entry of a tenant's scope catalog.
type Scope struct {
	Name              string `json:"name"`
	Description       string `json:"description"`
	RequiresApproval  bool   `json:"requires_approval"`
	ApprovalsRequired int    `json:"approvals_required"`
	BuiltIn           bool   `json:"built_in"`
}

// BuiltinScopes are in every tenant's catalog and cannot be removed
// (API.md "Authentication of the platform API"). They always require
// approval.
var BuiltinScopes = []Scope{
	builtin("platform:apps:read", "List and read apps, their webhooks and the tenant's deliveries"),
	builtin("platform:apps:write", "Create, update and delete apps; rotate their secrets; mint service tokens"),
	builtin("platform:scopes:approve", "Approve or reject scope requests"),
	builtin("platform:catalog:write", "Manage the tenant's scope catalog and event-type catalog"),
	builtin("platform:audit:read", "Read the tenant's event feed"),
	builtin("webhooks:read", "Read the app's own webhook subscriptions"),
	builtin("webhooks:write", "Manage the app's own webhook subscriptions"),
	builtin("events:publish", "Publish domain events for fan-out to webhooks"),
	builtin("platform:users:read", "Read the tenant's users"),
	builtin("platform:users:write", "Manage the tenant's users"),
	builtin("system:tenants:write", "Create tenants (bootstrap admin only)"),
	builtin("system:keys:write", "Force a signing-key rotation (bootstrap admin only)"),
}

func builtin(name, desc string) Scope {
	return Scope{Name: name, Description: desc, RequiresApproval: true, ApprovalsRequired: 1, BuiltIn: true}
}

// bootstrapAdminScopes is every built-in scope.
func bootstrapAdminScopes() []string {
	out := make([]string, len(BuiltinScopes))
	for i, s := range BuiltinScopes {
		out[i] = s.Name
	}
	return out
}

// tenantAdminScopes are the scopes of a tenant's admin app: every
// platform:*, webhooks:* and events:publish scope (API.md "Tenants").
func tenantAdminScopes() []string {
	var out []string
	for _, s := range BuiltinScopes {
		if !strings.HasPrefix(s.Name, "system:") {
			out = append(out, s.Name)
		}
	}
	return out
}
