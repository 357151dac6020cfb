// Package authz is Gatehouse's HTTP edge: the echo router, the platform API
// (/v1/platform/*), the OAuth 2.0 endpoints (/v1/oauth/*, with fosite), the
// authentication of bearer tokens, and the commands behind them that
// validate, decide on a projection and append events to the log.
//
// It exists so that everything HTTP-shaped lives in one place and the rest
// of the server (events, projections, jwks, webhooks) never sees a request.
//
// The plumbing every endpoint shares is built by NewEcho:
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
//     fields, trailing data or malformed JSON);
//   - GET /healthz, GET /readyz (the ReadinessCheck list given in Options)
//     and GET /metrics (Prometheus, on the registry given in Options);
//   - panics become 500 problems; an access log is written at debug level
//     only, so the hot path costs no log I/O at info.
//
// The OAuth endpoints answer errors as RFC 6749 §5.2 JSON instead of
// problem documents.
package authz
