package postgres

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/gatehouse/gatehouse/migrations"
	"github.com/gatehouse/gatehouse/projections"
)

// unlockTimeout bounds the release of the migration lock, which runs even
// when Migrate's context has ended.
const unlockTimeout = 5 * time.Second

// Migrate creates schema if needed and applies the migrations it lacks
// (package migrations), under a session advisory lock of the schema, so
// that instances starting at once migrate one after the other and the
// later ones find nothing to do. It returns the file names it applied, in
// order; none when the schema is up to date.
func Migrate(ctx context.Context, pool *pgxpool.Pool, schema string) (applied []string, err error) {
	if schema == "" {
		schema = DefaultSchema
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, migrateErr(err)
	}
	defer conn.Release()
	key := lockKey("gatehouse/migrate/" + schema)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return nil, migrateErr(err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), unlockTimeout)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
			_ = conn.Conn().Close(uctx) // ending the session releases the lock
		}
	}()
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+ident); err != nil {
		return nil, migrateErr(err)
	}
	return up(ctx, pool, ident)
}

// up runs goose over a connection whose search_path is the schema, so
// that the migrations and goose's own table land there.
func up(ctx context.Context, pool *pgxpool.Pool, ident string) ([]string, error) {
	cc := pool.Config().ConnConfig.Copy()
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	cc.RuntimeParams["search_path"] = ident
	db := stdlib.OpenDB(*cc)
	defer func() { _ = db.Close() }()
	db.SetMaxOpenConns(1)
	dir, err := fs.Sub(migrations.FS, migrations.Dir)
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, dir, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, migrateErr(err)
	}
	applied := make([]string, len(results))
	for i, r := range results {
		applied[i] = path.Base(r.Source.Path)
	}
	return applied, nil
}

// migrateErr names the step and marks an unreachable database.
func migrateErr(err error) error {
	if unavailable(err) {
		return fmt.Errorf("%w: postgres migrate: %w", projections.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres migrate: %w", err)
}

// latestVersion is the version of the last embedded migration: the number
// its file name starts with.
func latestVersion() (int64, error) {
	names, err := fs.Glob(migrations.FS, migrations.Dir+"/*.sql")
	if err != nil || len(names) == 0 {
		return 0, fmt.Errorf("postgres: no embedded migrations (%v)", err)
	}
	slices.Sort(names)
	base := path.Base(names[len(names)-1])
	n, _, _ := strings.Cut(base, "_")
	v, err := strconv.ParseInt(n, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("postgres: migration %s: no version number", base)
	}
	return v, nil
}
