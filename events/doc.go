// Package events defines Gatehouse's event envelope, the typed payloads of
// every event, and the append-only log they live in.
//
// Every change of state in Gatehouse is an Event appended to a NATS JetStream
// stream. The Log port is deliberately narrow: append (with optimistic
// concurrency per aggregate, atomic multi-event batches and de-duplication),
// read one aggregate's history, and follow a whole stream from a sequence.
// Projections and the webhook dispatcher are built on Follow; commands in
// package authz decide on a projection's state and Append with the version
// they read as the expectation.
//
// Two streams hold the log: the control plane (tenants, apps, secrets, scope
// decisions, keys, subscriptions), retained forever, and the high-volume
// stream (token mints and revocations, published domain events, delivery
// attempts), retained by age. Which stream an event goes to follows from its
// aggregate type.
//
// Independent high-volume events (token mints) are group-committed: a
// GroupCommitter gathers concurrent callers' events and writes them with
// Packer.AppendPacked as one message, so one durable write acknowledges
// them all. Packed events share their message's sequence, arrive through
// Follow with Event.More set on all but the last, and are not part of their
// aggregate's Read history.
package events
