// Package webhooks will hold webhook subscriptions, the dispatcher (a
// durable JetStream consumer of the log shared by all instances), Standard
// Webhooks signing, the retry schedule and delivery attempts (DESIGN.md
// "Webhooks"). It is built in its own issue; nothing uses it yet.
package webhooks
