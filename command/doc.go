// Package command is the one path every command of Gatehouse takes: read
// the state and its version from a projection, decide, append the decided
// events to the log expecting the versions read, and on a lost race read
// again and decide again; once an append is durable, wait until the
// projections have applied it (read-your-writes), so that the caller
// answers from them.
//
// The HTTP handlers of authz (tenants, apps, scopes, secrets, catalogs,
// webhooks, idempotency keys) and the webhook dispatcher all run their
// commands through Run; nothing else in the code loops on
// events.ErrVersionConflict. It imports events and projections only, so
// that every package to their right (jwks, webhooks, authz, cmd) can use
// it.
package command
