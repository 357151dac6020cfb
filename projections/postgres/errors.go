package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/projections"
)

// wrap names the operation in err and marks the errors of a database that
// cannot be reached now with projections.ErrUnavailable. A context's own
// error stays what it is: the caller gave up.
func (s *Store) wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, projections.ErrNotFound), errors.Is(err, projections.ErrInvalid):
		return err
	case unavailable(err):
		return fmt.Errorf("%w: postgres %s: %w", projections.ErrUnavailable, op, err)
	default:
		return fmt.Errorf("postgres %s: %w", op, err)
	}
}

// unavailable reports whether err says the database cannot be reached or
// cannot serve now, so that a later attempt may succeed: a lost or refused
// connection, a server shutting down or starting, too many connections, a
// serialization failure or deadlock. Errors of the statement itself (a
// constraint, a syntax error) and a context's end are not.
func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"),                           // insufficient resources
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // admin/crash shutdown, cannot connect now
			pe.Code == "40001", pe.Code == "40P01": // serialization failure, deadlock
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EPIPE) || err.Error() == "closed pool"
}
