//go:build tools

package migrations

// The PostgreSQL projection store (pgx v5) and its migrations come with
// the production-mode issue; this import keeps the driver's version pinned
// in go.mod until then. The build tag keeps it out of every binary.
import _ "github.com/jackc/pgx/v5"
