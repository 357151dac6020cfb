package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/ticker"
	"github.com/gatehouse/gatehouse/projections"
)

// The store is projections.Shared: instances sharing a schema elect the
// one that writes it with a session advisory lock, and learn that the
// checkpoint moved from a notification sent with each commit.
var _ projections.Shared = (*Store)(nil)

const (
	// notifyChannel is where every Update's commit notifies, with the
	// schema as the payload.
	notifyChannel = "gatehouse_projections"
	notifySQL     = "SELECT pg_notify($1, $2)"
	// leaseCheck is how often the leader checks that the session holding
	// its lease is alive, and a follower tries to take the lease.
	leaseCheck = 500 * time.Millisecond
	// leaseCheckTimeout bounds one check: a leader whose database does
	// not answer within it gives the lease up.
	leaseCheckTimeout = 2 * time.Second
)

// Lead implements projections.Shared: it tries the schema's leader lock,
// a session advisory lock held on a connection of its own, every
// leaseCheck until it gets it. The lease ends when the connection fails a
// check (the session, hence the lock, may be gone: another instance may
// lead now), on release, or when ctx ends. An instance that dies loses
// the lock with its session, at once when the process is killed (the
// kernel closes its socket), else when PostgreSQL notices the connection
// is gone.
func (s *Store) Lead(ctx context.Context) (context.Context, func(), error) {
	cfg := s.pool.Config().ConnConfig.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	// The server ends the session of a leader it can no longer reach
	// within about 11 s (TCP keepalives), releasing the lease, rather
	// than after the system's default of two hours.
	for k, v := range map[string]string{"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2", "tcp_keepalives_count": "3"} {
		cfg.RuntimeParams[k] = v
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, nil, s.wrap("lead", err)
	}
	t := time.NewTicker(leaseCheck)
	defer t.Stop()
	for {
		var got bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", s.leaderKey).Scan(&got); err != nil {
			closeConn(conn)
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			return nil, nil, s.wrap("lead", err)
		}
		if got {
			lease, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go s.holdLease(lease, cancel, conn, done)
			return lease, func() { cancel(); <-done }, nil
		}
		select {
		case <-ctx.Done():
			closeConn(conn)
			return nil, nil, ctx.Err()
		case <-t.C:
		}
	}
}

// holdLease checks the lease's session every leaseCheck and ends the
// lease (cancel) when a check fails; once the lease has ended it closes
// the session, which releases the lock, and closes done.
func (s *Store) holdLease(lease context.Context, cancel context.CancelFunc, conn *pgx.Conn, done chan<- struct{}) {
	defer close(done)
	defer closeConn(conn)
	defer cancel()
	ticker.Every(lease, leaseCheck, func() bool {
		cctx, stop := context.WithTimeout(lease, leaseCheckTimeout)
		defer stop()
		return conn.Ping(cctx) == nil
	})
}

// Watch implements projections.Shared: it listens to the commit
// notifications of the schema on a connection of its own until ctx ends
// or the connection fails.
func (s *Store) Watch(ctx context.Context, changed func()) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return s.wrap("watch", err)
	}
	defer closeConn(conn)
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{notifyChannel}.Sanitize()); err != nil {
		return s.wrap("watch", err)
	}
	changed() // what was committed before LISTEN
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return s.wrap("watch", err)
		}
		if n.Payload == s.schema {
			changed()
		}
	}
}

// closeConn closes a connection of the store's own, within a bound.
func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), rollbackTimeout)
	defer cancel()
	_ = c.Close(ctx)
}
