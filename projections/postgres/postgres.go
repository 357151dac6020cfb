package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// DefaultSchema is where the tables live when Config.Schema is empty.
const DefaultSchema = "public"

// DefaultCacheSize is the default bound of the writer's cache, in
// entries (a document or a key holder each).
const DefaultCacheSize = 100_000

// Config configures Open.
type Config struct {
	// URL is a PostgreSQL connection string (postgres://… or key=value);
	// the store opens and closes its own pool. Ignored when Pool is set.
	URL string
	// Pool is a pool to use instead of URL; Close leaves it open. It
	// needs room for two connections: an Update's and a reader's.
	Pool *pgxpool.Pool
	// Schema holds the tables. Default DefaultSchema.
	Schema string
	// Migrate applies the migrations (Migrate) before the store opens.
	// Without it, Open fails when the schema lacks the tables.
	Migrate bool
	// CacheSize bounds the writer's cache of committed documents and key
	// holders, in entries. Default DefaultCacheSize; negative: no cache.
	CacheSize int
}

func (c Config) withDefaults() Config {
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	if c.CacheSize == 0 {
		c.CacheSize = DefaultCacheSize
	}
	return c
}

// Store is the PostgreSQL projections.Store. Open makes one; it is safe
// for concurrent use.
type Store struct {
	pool    *pgxpool.Pool
	ownPool bool
	schema  string
	sql     statements
	lockKey int64
	// leaderKey is the session advisory lock of the writer lease (Lead).
	leaderKey int64

	// wmu admits one Update of this Store at a time (the advisory lock
	// serializes it with other processes) and guards known.
	wmu   sync.Mutex
	known *cache

	// hmu guards held: the checkpoint an Update read under the lock,
	// while it holds the lock and has not begun to commit.
	hmu  sync.Mutex
	held projections.Checkpoint
}

var _ projections.Store = (*Store)(nil)

// Open connects to PostgreSQL and returns the store of cfg.Schema,
// migrating it first if cfg.Migrate. It fails when the database cannot be
// reached (an error wrapping projections.ErrUnavailable) or the schema
// lacks the tables or a migration of this build.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.withDefaults()
	pool, own := cfg.Pool, false
	if pool == nil {
		if cfg.URL == "" {
			return nil, errors.New("postgres: Config needs a URL or a Pool")
		}
		pc, err := pgxpool.ParseConfig(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("postgres: database URL: %w", err)
		}
		if _, set := pc.ConnConfig.RuntimeParams["application_name"]; !set {
			pc.ConnConfig.RuntimeParams["application_name"] = "gatehouse"
		}
		if pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		own = true
	}
	s := &Store{pool: pool, ownPool: own, schema: cfg.Schema, sql: newStatements(cfg.Schema),
		lockKey:   updateLockKey(cfg.Schema),
		leaderKey: lockKey("gatehouse/projections/leader/" + cfg.Schema), known: newCache(cfg.CacheSize)}
	if err := s.open(ctx, cfg.Migrate); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// open migrates the schema if asked and checks that the tables are there
// and the last migration applied.
func (s *Store) open(ctx context.Context, migrate bool) error {
	if migrate {
		if _, err := Migrate(ctx, s.pool, s.schema); err != nil {
			return err
		}
	}
	var have int64
	err := s.pool.QueryRow(ctx, s.sql.version).Scan(&have)
	if err == nil {
		_, err = s.pool.Exec(ctx, s.sql.probe)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000") { // undefined table, schema
		return fmt.Errorf("postgres: schema %q has no projection tables: run `gatehouse migrate` (%s)", s.schema, pe.Message)
	}
	if err != nil {
		return s.wrap("open", err)
	}
	want, err := latestVersion()
	if err != nil {
		return err
	}
	if have < want {
		return fmt.Errorf("postgres: schema %q is at migration %d, this build needs %d: run `gatehouse migrate`", s.schema, have, want)
	}
	return nil
}

// Close implements projections.Store: it closes the pool the store
// opened (not one given in Config.Pool).
func (s *Store) Close() error {
	if s.ownPool {
		s.pool.Close()
	}
	return nil
}

// Schema returns the schema that holds the store's tables.
func (s *Store) Schema() string { return s.schema }

// updateLockKey is the key of the transaction advisory lock every Update
// of schema takes (and Swap, to hold them off).
func updateLockKey(schema string) int64 { return lockKey("gatehouse/projections/" + schema) }

// lockKey is the advisory lock key of name.
func lockKey(name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return int64(h.Sum64())
}

// Get implements projections.Reader.
func (s *Store) Get(ctx context.Context, kind, id string) (projections.Doc, error) {
	if !storable(kind) || !storable(id) {
		return projections.Doc{}, projections.NotFound(kind, id)
	}
	d, err := scanDoc(s.pool.QueryRow(ctx, s.sql.get, kind, id), kind, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return projections.Doc{}, projections.NotFound(kind, id)
	}
	return d, s.wrap("get", err)
}

// Lookup implements projections.Reader.
func (s *Store) Lookup(ctx context.Context, kind, key string) (projections.Doc, error) {
	if !storable(kind) || !storable(key) {
		return projections.Doc{}, projections.NotFound(kind, key)
	}
	var id string
	d, err := scanDoc(s.pool.QueryRow(ctx, s.sql.lookup, kind, key), kind, "", &id)
	if errors.Is(err, pgx.ErrNoRows) {
		return projections.Doc{}, projections.NotFound(kind, key)
	}
	d.ID = id
	return d, s.wrap("lookup", err)
}

// listStart reads where page p starts; ok is false (with no error) when
// kind or tenant cannot be stored, so nothing can be listed under them,
// and err wraps ErrInvalid for a malformed cursor.
func listStart(kind, tenant string, p projections.Page) (sort, id string, ok bool, err error) {
	sort, id, err = p.StartOf(kind)
	if err != nil {
		return "", "", false, err
	}
	if !storable(sort) || !storable(id) {
		return "", "", false, fmt.Errorf("%w: malformed cursor", projections.ErrInvalid)
	}
	return sort, id, storable(kind) && storable(tenant) && storable(p.Owner), nil
}

// List implements projections.Reader.
func (s *Store) List(ctx context.Context, kind, tenant string, p projections.Page) ([]projections.Doc, string, error) {
	sort, id, ok, err := listStart(kind, tenant, p)
	if !ok || err != nil {
		return nil, "", err
	}
	out, err := s.listOn(ctx, s.pool, kind, tenant, p.Owner, sort, id, min(int64(p.Limit), math.MaxInt32)+1)
	if err != nil || len(out) <= p.Limit {
		return out, "", err
	}
	last := out[p.Limit-1]
	return out[:p.Limit], projections.EncodeCursor(last.Sort, last.ID), nil
}

// listOn reads up to limit documents of kind/tenant (owner's only, when
// not empty) after (sort, id).
func (s *Store) listOn(ctx context.Context, q querier, kind, tenant, owner, sort, id string, limit int64) ([]projections.Doc, error) {
	sql, args := s.sql.list, []any{kind, tenant, sort, id, min(limit, math.MaxInt32)}
	if owner != "" {
		sql, args = s.sql.listOwner, append(args, owner)
	}
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, s.wrap("list", err)
	}
	defer rows.Close()
	out := make([]projections.Doc, 0, min(limit, 64))
	for rows.Next() {
		d := projections.Doc{Kind: kind, Tenant: tenant}
		if err := rows.Scan(&d.ID, &d.Sort, &d.Owner, &d.Keys, &d.Body); err != nil {
			return nil, s.wrap("list", err)
		}
		out = append(out, tidy(d))
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap("list", err)
	}
	return out, nil
}

// Checkpoint implements projections.Reader.
func (s *Store) Checkpoint(ctx context.Context) (projections.Checkpoint, error) {
	s.hmu.Lock()
	held := maps.Clone(s.held)
	s.hmu.Unlock()
	if held != nil {
		return held, nil
	}
	cp, err := readCheckpoint(ctx, s.pool, s.sql.checkpoints)
	return cp, s.wrap("checkpoint", err)
}

// setHeld records (or, with nil, forgets) the checkpoint an Update holds.
func (s *Store) setHeld(cp projections.Checkpoint) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	s.held = cp
}

// Docs returns every document ordered by kind and id: for tests that
// compare two stores and for diagnostics.
func (s *Store) Docs(ctx context.Context) ([]projections.Doc, error) {
	rows, err := s.pool.Query(ctx, s.sql.all)
	if err != nil {
		return nil, s.wrap("docs", err)
	}
	docs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (projections.Doc, error) {
		var d projections.Doc
		err := r.Scan(&d.Kind, &d.ID, &d.Tenant, &d.Sort, &d.Owner, &d.Keys, &d.Body)
		return tidy(d), err
	})
	return docs, s.wrap("docs", err)
}

// querier is what the readers need of a pool or a connection.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readCheckpoint reads the checkpoints table.
func readCheckpoint(ctx context.Context, q querier, sql string) (projections.Checkpoint, error) {
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	return collectCheckpoint(rows)
}

func collectCheckpoint(rows pgx.Rows) (projections.Checkpoint, error) {
	cp := projections.Checkpoint{}
	var stream string
	var seq int64
	_, err := pgx.ForEachRow(rows, []any{&stream, &seq}, func() error {
		cp[events.Stream(stream)] = uint64(seq)
		return nil
	})
	return cp, err
}

// scanDoc scans the tenant, sort, owner, keys and body of kind/id from
// row, after the columns of extra.
func scanDoc(row pgx.Row, kind, id string, extra ...any) (projections.Doc, error) {
	d := projections.Doc{Kind: kind, ID: id}
	if err := row.Scan(append(extra, &d.Tenant, &d.Sort, &d.Owner, &d.Keys, &d.Body)...); err != nil {
		return projections.Doc{}, err
	}
	return tidy(d), nil
}

// tidy makes a scanned document look like the memory store's: no keys is
// nil Keys.
func tidy(d projections.Doc) projections.Doc {
	if len(d.Keys) == 0 {
		d.Keys = nil
	}
	return d
}

// storable reports whether PostgreSQL text can hold s: valid UTF-8
// without NUL.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.Contains(s, "\x00")
}
