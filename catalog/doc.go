// Package catalog is the scope and event-type catalog (API.md "Scope and
// event-type catalogs") without its HTTP side: the built-in scopes and
// event types every tenant has, the reserved scope prefix, the rules of a
// catalog entry's name and description, and Tenant, the lookup of a
// tenant's catalog (the built-in entries, then the tenant's own from the
// projections).
//
// Both the HTTP edge (authz: the catalog API, scope requests, webhook
// subscriptions) and the webhooks dispatcher (which built-in log events
// subscribers receive, and the scope each needs) read it here, so the
// lists exist once. It imports only events and projections.
package catalog
