package catalog

import (
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/events"
)

// Scope is one entry of a tenant's scope catalog.
type Scope struct {
	Name              string `json:"name"`
	Description       string `json:"description"`
	RequiresApproval  bool   `json:"requires_approval"`
	ApprovalsRequired int    `json:"approvals_required"`
	BuiltIn           bool   `json:"built_in"`
}

// EventType is one entry of a tenant's event-type catalog: receiving it
// needs Scope approved for the app.
type EventType struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Scope       string `json:"scope"`
	BuiltIn     bool   `json:"built_in"`
}

// BuiltinVersion is the version of every built-in entry: they never
// change.
const BuiltinVersion = 1

// BuiltinScopes are in every tenant's catalog and cannot be removed
// (API.md "Authentication of the platform API"). They always require
// approval.
var BuiltinScopes = []Scope{
	builtinScope("platform:apps:read", "List and read apps, their webhooks and the tenant's deliveries"),
	builtinScope("platform:apps:write", "Create, update and delete apps; rotate their secrets; mint service tokens"),
	builtinScope("platform:scopes:approve", "Approve or reject scope requests"),
	builtinScope("platform:catalog:write", "Manage the tenant's scope catalog and event-type catalog"),
	builtinScope("platform:audit:read", "Read the tenant's event feed"),
	builtinScope("webhooks:read", "Read the app's own webhook subscriptions"),
	builtinScope("webhooks:write", "Manage the app's own webhook subscriptions"),
	builtinScope("events:publish", "Publish domain events for fan-out to webhooks"),
	builtinScope("platform:users:read", "Read the tenant's users"),
	builtinScope("platform:users:write", "Manage the tenant's users"),
	builtinScope("system:tenants:write", "Create tenants (bootstrap admin only)"),
	builtinScope("system:keys:write", "Force a signing-key rotation (bootstrap admin only)"),
	builtinScope("credentials:read", "Read the tenant's upstream credentials, their versions and health"),
	builtinScope("credentials:write", "Manage the tenant's upstream credentials: create, change, delete, refresh, roll back"),
	builtinScope("graphql:introspect", "Introspect the GraphQL schema and read its SDL"),
	builtinScope("graphql:adhoc", "Send free-form GraphQL documents, not only approved operations"),
	builtinScope("credentials:use", "Use the upstream credentials that name the app in their grants: the proxy (/v1/proxy/…) and token exchange (RFC 8693) for exchangeable ones"),
}

func builtinScope(name, desc string) Scope {
	return Scope{Name: name, Description: desc, RequiresApproval: true, ApprovalsRequired: 1, BuiltIn: true}
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
	{Name: "user.created", Description: "A user was created", Scope: "platform:users:read", BuiltIn: true},
	{Name: "user.updated", Description: "A user's name or roles changed", Scope: "platform:users:read", BuiltIn: true},
	{Name: "user.disabled", Description: "A user was disabled: their sessions and tokens ended", Scope: "platform:users:read", BuiltIn: true},
	{Name: "user.enabled", Description: "A disabled user was enabled again", Scope: "platform:users:read", BuiltIn: true},
	{Name: "user.deleted", Description: "A user was deleted", Scope: "platform:users:read", BuiltIn: true},
	{Name: "webhook.disabled", Description: "The server disabled a webhook (410 Gone, or failing for days)", Scope: "platform:apps:read", BuiltIn: true},
	{Name: "webhook.test", Description: "Sent by POST /v1/webhooks/{id}/test to the webhook tested", Scope: "webhooks:write", BuiltIn: true},
	{Name: "credential.refresh_failed", Description: "A refresh of an upstream credential failed", Scope: "credentials:read", BuiltIn: true},
	{Name: "credential.revoked", Description: "An upstream provider revoked a credential's grant (invalid_grant): it needs reauthorization", Scope: "credentials:read", BuiltIn: true},
	{Name: "credential.expiring", Description: "An upstream credential's tokens expire soon and could not be refreshed yet", Scope: "credentials:read", BuiltIn: true},
}

// BuiltinScope returns the built-in scope name.
func BuiltinScope(name string) (Scope, bool) {
	i := slices.IndexFunc(BuiltinScopes, func(s Scope) bool { return s.Name == name })
	if i < 0 {
		return Scope{}, false
	}
	return BuiltinScopes[i], true
}

// BuiltinEventType returns the built-in event type name.
func BuiltinEventType(name string) (EventType, bool) {
	i := slices.IndexFunc(BuiltinEventTypes, func(t EventType) bool { return t.Name == name })
	if i < 0 {
		return EventType{}, false
	}
	return BuiltinEventTypes[i], true
}

// AppEvent reports whether typ is a built-in event type that is one of
// the app aggregate's own log events (app.created, app.scope.approved,
// …): the dispatcher delivers the log event itself, its data redacted
// (package redact), with the app's id added.
func AppEvent(typ string) bool {
	_, ok := BuiltinEventType(typ)
	return ok && strings.HasPrefix(typ, "app.")
}

// UserEvent reports whether typ is a built-in event type that is one of
// the user aggregate's own log events (user.created, user.disabled, …):
// the dispatcher delivers the log event itself, its data redacted (no
// password hash ever leaves the server), with the user's id added.
// user.password_changed is not one: it says nothing a subscriber needs.
func UserEvent(typ string) bool {
	_, ok := BuiltinEventType(typ)
	return ok && strings.HasPrefix(typ, "user.")
}

// ReservedPrefix starts the scopes of the bootstrap admin.
const ReservedPrefix = "system:"

// Reserved reports whether scope is held only by the bootstrap admin: no
// app may request it, no admin may approve it, no tenant defines a scope
// with its prefix and no event type names one.
func Reserved(scope string) bool { return strings.HasPrefix(scope, ReservedPrefix) }

// AdminPrefix starts the tenant-administration scopes: a token a person
// signs in for carries them only when that user has the admin role.
const AdminPrefix = "platform:"

// adminScopes are the other built-in scopes that administer the whole
// tenant rather than act as the app: the vault's management of every
// credential (and its approval activities), the GraphQL schema and
// free-form documents. Like platform:*, a person's token carries them
// only with the admin role. What an app does as itself (its own
// webhooks, publishing, using the credentials granted to it) is not here.
var adminScopes = []string{"credentials:read", "credentials:write", "graphql:introspect", "graphql:adhoc"}

// AdminScope reports whether scope administers the tenant: platform:*
// and adminScopes.
func AdminScope(scope string) bool {
	return strings.HasPrefix(scope, AdminPrefix) || slices.Contains(adminScopes, scope)
}

// UserMayHold reports whether a token issued to a signed-in user with
// these roles (events.RoleAdmin, events.RoleMember) may carry scope, on
// top of the scope being approved for the app the user signed in to
// (API.md "Users and sign-in": roles). Nobody holds a reserved (system:)
// scope through a user token; the tenant-administration scopes
// (AdminScope) need the admin role; every other scope follows the app's
// approvals alone. The rule is applied when a user token is issued and
// again whenever one is checked, so a role withdrawn stops working at once.
func UserMayHold(roles []string, scope string) bool {
	switch {
	case Reserved(scope):
		return false
	case AdminScope(scope):
		return slices.Contains(roles, events.RoleAdmin)
	default:
		return true
	}
}
