package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// rollbackTimeout bounds the rollback of a failed Update, which runs even
// when the Update's context has ended.
const rollbackTimeout = 5 * time.Second

// Update implements projections.Store: one transaction under the
// schema's advisory lock, its writes buffered in an overlay and sent at
// commit in one batch with the checkpoint.
func (s *Store) Update(ctx context.Context, stream events.Stream, seq uint64, fn func(projections.Tx) error) (err error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if seq > math.MaxInt64 {
		return fmt.Errorf("%w: sequence %d is beyond PostgreSQL's bigint", projections.ErrInvalid, seq)
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.wrap("update", err)
	}
	defer s.release(ctx, conn)
	cp, err := s.begin(ctx, conn)
	if err != nil {
		return s.wrap("update", err)
	}
	if have := cp[stream]; seq <= have {
		return fmt.Errorf("%w: %s is at %d, asked to move to %d", projections.ErrStaleCheckpoint, stream, have, seq)
	}
	s.setHeld(cp)
	defer s.setHeld(nil)
	t := projections.NewOverlayTx(committed{s: s, ctx: ctx, conn: conn})
	defer t.Close()
	if err := fn(t); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.setHeld(nil) // from here on the committed state may change
	next := maps.Clone(cp)
	next[stream] = seq
	if err := s.commit(ctx, conn, &t.Writes, stream, seq); err != nil {
		s.known.invalidate()
		return s.wrap("commit", err)
	}
	s.known.committed(t.Writes.Docs, t.Writes.Keys, next)
	return nil
}

// begin opens the transaction, steers its plans to the indexes, takes
// the schema's lock and returns the checkpoint, all in one round trip,
// then brings the cache up to date.
func (s *Store) begin(ctx context.Context, conn *pgxpool.Conn) (projections.Checkpoint, error) {
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(s.sql.indexOnly)
	b.Queue(s.sql.lock, s.lockKey)
	q := b.Queue(s.sql.checkpoints)
	var cp projections.Checkpoint
	q.Query(func(rows pgx.Rows) (err error) {
		cp, err = collectCheckpoint(rows)
		return err
	})
	var table int64
	b.Queue(s.sql.tableOID, s.sql.documents).QueryRow(func(row pgx.Row) error { return row.Scan(&table) })
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	if s.known.current(cp, table) || s.known.max < 0 {
		return cp, nil
	}
	var any bool
	if err := conn.QueryRow(ctx, s.sql.anyDocs).Scan(&any); err != nil {
		return nil, err
	}
	s.known.reset(cp, table, !any)
	return cp, nil
}

// release ends whatever transaction conn is still in (a failed fn, a
// panic, a stale checkpoint) and gives conn back to the pool, which drops
// it if the rollback failed.
func (s *Store) release(ctx context.Context, conn *pgxpool.Conn) {
	if pc := conn.Conn().PgConn(); !pc.IsClosed() && pc.TxStatus() != 'I' {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		if _, err := conn.Exec(rctx, "ROLLBACK"); err != nil {
			_ = conn.Conn().Close(rctx)
		}
		cancel()
	}
	conn.Release()
}

// commit sends t's writes, the checkpoint and COMMIT in one batch: one
// round trip.
func (s *Store) commit(ctx context.Context, conn *pgxpool.Conn, w *projections.Overlay, stream events.Stream, seq uint64) error {
	b := &pgx.Batch{}
	s.queueChanges(b, w)
	b.Queue(s.sql.moveCkpt, string(stream), int64(seq))
	b.Queue(notifySQL, notifyChannel, s.schema) // delivered at COMMIT: followers read the checkpoint
	done := b.Queue("COMMIT")
	var tag string
	done.Exec(func(ct pgconn.CommandTag) error {
		tag = ct.String()
		return nil
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	if tag != "COMMIT" {
		return errors.New("postgres: the transaction did not commit")
	}
	return nil
}
