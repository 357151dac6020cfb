// Package projections holds Gatehouse's read models: what the API reads.
//
// A projection is a set of JSON documents (Doc) built by applying the log's
// events in order (Apply and the reducers beside each view). The Store port
// keeps the documents and, in the same transaction, the checkpoint: the
// last applied sequence of each stream, so applying is exactly-once and a
// restart resumes where it stopped. The memory store (package memory) is
// the embedded default, rebuilt from the log at start; the postgres store is
// the production one. Both pass the conformance suite in projectionstest.
//
// The Projector follows the log, applies events in batches, and lets
// callers wait until a sequence is applied (read-your-writes). Nothing but
// the projector writes a Store.
package projections
