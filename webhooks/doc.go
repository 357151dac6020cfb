// Package webhooks delivers the tenant's events to the apps' webhook
// subscriptions (API.md "Webhooks", DESIGN.md "Webhooks").
//
// The dispatcher (dispatcher.go) is a durable JetStream consumer of the log
// shared by all instances; it records every attempt as an event. It is
// built from small pieces, each usable and tested alone:
//
//   - signing.go: Standard Webhooks 1.0 secrets (NewSecret, ParseSecret),
//     signatures (Sign) and headers (Headers), and the record a secret is
//     sealed for (SecretAAD; the sealing is package sealing's).
//   - client.go: the outbound HTTP client (NewClient: SSRF guard after DNS
//     resolution at every connection, no redirects, bounded time) and the
//     check of a subscription's URL (ValidateURL).
//   - deliver.go: one attempt (Deliver) and its outcome (SendResult: status,
//     error class, the answer's first 4 KiB, Retry-After, 410 Gone).
//   - schedule.go: the retry schedule (ParseSchedule, Schedule.Next: jitter
//     and Retry-After).
//   - limiter.go: the bound of attempts in flight per endpoint (Limiter).
//
// What subscribers receive is the event's data redacted by package redact
// (the rule of all event data leaving the server); which built-in events
// they receive, and the scope each needs, is package catalog's.
package webhooks
