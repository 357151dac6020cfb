// Package postgres is the PostgreSQL projections.Store (pgx v5): the
// production store, shared by every instance, that keeps the read models
// across restarts. Its schema is the embedded migrations of package
// migrations, applied by Migrate under an advisory lock.
//
// Layout: documents (kind, id, tenant, sort, owner, keys, body) with the body
// stored byte for byte (bytea), unique_keys (kind, key) → id, and
// checkpoints (stream → seq), all in one schema (Config.Schema). Text is
// COLLATE "C", so List orders by bytes like the memory store.
//
// Writes. An Update is one transaction that first takes a transaction-
// level advisory lock of the schema, so Updates are serialized across
// every instance and process, then reads the checkpoints: one round trip.
// Its writes go to an in-memory overlay (what Tx.Get and Tx.Lookup consult
// first, so a failed Put changes nothing) and are sent at commit in one
// pipelined batch of set-based statements (unnest of arrays, deletes by
// lists of keys) with the checkpoint and the COMMIT: a second round trip,
// however many documents the Update writes. Its statements run with
// every plan but primary-key probes turned off (see statements.go).
//
// The writer also remembers the committed state it has read or written
// (a bounded cache of documents and key holders), so reducers that read
// what the previous batch wrote do not go to the database. The cache is
// trusted only while the checkpoints read under the lock are the ones its
// own last commit left: any other writer moves a checkpoint, which empties
// the cache. When the store was empty as the cache started and nothing has
// been evicted since, the cache holds everything, so a miss is an absence
// without a query: replaying the log into a fresh schema reads nothing.
//
// Reads outside an Update (Reader) are plain queries of committed data,
// but Checkpoint while this store's Update holds the lock, which returns
// the checkpoint that Update read (nobody can commit meanwhile).
//
// Lost connections give errors wrapping projections.ErrUnavailable, which
// the projector retries. PostgreSQL text holds neither NUL nor invalid
// UTF-8, so Put refuses such a kind, id, tenant, sort or key with
// projections.ErrInvalid (the memory store would take them).
package postgres
