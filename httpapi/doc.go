// Package httpapi is the HTTP plumbing every Gatehouse endpoint shares,
// whatever the layer above it (the OAuth endpoints in package oauth, the
// platform API in package authz, and later the identity provider): it knows
// requests and answers, never events of a resource.
//
// NewEcho builds the router:
//
//   - every response carries X-Request-Id (RequestID reads it);
//   - errors are values: handlers return a *Problem (Validation, NotFound,
//     Conflict, Unauthorized, InsufficientScope, PreconditionFailed,
//     Unavailable, …) and one error handler writes it as an RFC 9457
//     application/problem+json document (API.md "Conventions"); any other
//     error is a 500 "internal" whose cause is logged with the request id
//     and never shown;
//   - request bodies are limited to 1 MiB (413), and BindJSON decodes a
//     JSON body strictly (415 for another media type, 400 for unknown
//     fields, trailing data or malformed JSON; no body at all is {}) and
//     checks its text
//     (input hygiene: control characters, lone surrogates, lengths);
//   - GET /healthz, GET /readyz (the ReadinessCheck list given in Options)
//     and GET /metrics (Prometheus, on the registry given in Options);
//   - panics become 500 problems; an access log is written at debug level
//     only, so the hot path costs no log I/O at info.
//
// It also holds NoStore (Cache-Control for answers carrying credentials)
// and the Limiter, the abuse-limit core (per-address and per-client
// failure back-off, per-client budgets) that the OAuth endpoints and the
// platform API's authentication spend from.
package httpapi
