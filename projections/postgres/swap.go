package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/projections"
)

// Swap puts the tables of schema fresh (a rebuild) in the place of schema
// target, which is renamed retired, without stopping the instances that
// read and write target:
//
//  1. it takes target's Update lock in a transaction, so that no Update of
//     target commits until the swap has (readers go on, on the old
//     tables);
//  2. it calls catchUp with target's checkpoint, read under the lock;
//     catchUp must bring fresh at least that far (apply the events
//     appended since fresh was built) — only target's writers wait
//     meanwhile;
//  3. it checks fresh's checkpoint and renames both schemas, then
//     commits. Readers see the old tables or the new ones, never a mix;
//     the instances' statements name the schema, so they resolve to the
//     new tables from then on, and a writer's cache notices the new
//     tables (see cache.table).
//
// When target does not exist, fresh is just renamed target. retired must
// not exist.
func Swap(ctx context.Context, pool *pgxpool.Pool, fresh, target, retired string, catchUp func(context.Context, projections.Checkpoint) error) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("swap: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", updateLockKey(target)); err != nil {
		return fmt.Errorf("swap: lock %s: %w", target, err)
	}
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", target).Scan(&exists); err != nil {
		return fmt.Errorf("swap: %w", err)
	}
	live := projections.Checkpoint{}
	if exists {
		if live, err = readCheckpoint(ctx, tx, newStatements(target).checkpoints); err != nil {
			return fmt.Errorf("swap: read the checkpoint of %s: %w", target, err)
		}
	}
	if err := catchUp(ctx, live); err != nil {
		return fmt.Errorf("swap: catch up with %s: %w", target, err)
	}
	got, err := readCheckpoint(ctx, tx, newStatements(fresh).checkpoints)
	if err != nil {
		return fmt.Errorf("swap: read the checkpoint of %s: %w", fresh, err)
	}
	for s, seq := range live {
		if got[s] < seq {
			return fmt.Errorf("swap: %s has applied %s up to %d, %s up to %d: not swapped", fresh, s, got[s], target, seq)
		}
	}
	if exists {
		if _, err := tx.Exec(ctx, "ALTER SCHEMA "+pgx.Identifier{target}.Sanitize()+" RENAME TO "+pgx.Identifier{retired}.Sanitize()); err != nil {
			return fmt.Errorf("swap: retire %s: %w", target, err)
		}
	}
	if _, err := tx.Exec(ctx, "ALTER SCHEMA "+pgx.Identifier{fresh}.Sanitize()+" RENAME TO "+pgx.Identifier{target}.Sanitize()); err != nil {
		return fmt.Errorf("swap: rename %s: %w", fresh, err)
	}
	// Followers re-read the checkpoint: the rebuild may be ahead.
	if _, err := tx.Exec(ctx, notifySQL, notifyChannel, target); err != nil {
		return fmt.Errorf("swap: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("swap: commit: %w", err)
	}
	return nil
}

// DropSchema drops schema and everything in it (a retired one).
func DropSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	if schema == "" {
		return errors.New("postgres: drop schema: no name")
	}
	_, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}
