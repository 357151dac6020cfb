// Package migrations will hold the PostgreSQL schema of the projections as
// embedded, append-only SQL files, applied by `gatehouse migrate` and at
// start under an advisory lock. It is built with the PostgreSQL store; the
// embedded default keeps projections in memory and needs no schema.
package migrations
