// Package authz is the platform API (/v1/platform/*, /v1/tenants,
// /v1/events): the platform resources and the commands behind them that
// validate, decide on a projection and append events to the log through
// command.Run. It holds tenants, apps (secrets, scope requests and
// decisions, the authority rules of authority.go), the scope and
// event-type catalog API, the webhooks API and event publishing, service
// tokens, the audit feed, idempotency, key rotation, bootstrap and the
// OpenAPI document.
//
// The name is kept from when this package was the whole HTTP edge. The
// layers below it are packages of their own: httpapi is the plumbing
// (router, problem+json errors, BindJSON, limits, health), oauth the
// OAuth 2.0 endpoints, token checking and the bearer authentication every
// platform route uses (oauth.Authenticator.Require, oauth.PrincipalOf).
// Service tokens are minted and revoked by oauth's one mint and revocation
// path (the ServiceTokens interface).
package authz
