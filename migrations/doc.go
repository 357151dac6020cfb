// Package migrations holds the PostgreSQL schema of the projections
// (package projections/postgres) as embedded, append-only SQL files in
// the format of github.com/pressly/goose/v3, applied by `gatehouse
// migrate` and at start under an advisory lock (postgres.Migrate). A
// change of schema is a new file with the next number; a released file is
// never edited. The embedded default keeps projections in memory and needs
// no schema.
package migrations

import "embed"

// FS holds the migrations, sql/NNNNN_name.sql, in goose's format.
//
//go:embed sql/*.sql
var FS embed.FS

// Dir is the directory of FS that holds the migrations.
const Dir = "sql"
