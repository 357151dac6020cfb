package graphql

import (
	"context"
	"log/slog"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/gatehouse/gatehouse/httpapi"
)

// What an answer hides behind "internal error" (API.md "Conventions": a
// 5xx never leaks internals) is logged at level error, as the REST edge
// logs a handler's panic ("handler panicked", httpapi) and a 500's cause
// ("request failed"): the request id the caller was answered with
// (X-Request-Id, which the inner REST requests carry too) and the
// operation's name, so that a report of an internal error leads to its
// cause. A REST problem of an inner request is logged by the REST edge
// itself (the bridge keeps no cause of it) and is not logged again here.

// logPanic logs v, a resolver's panic that gqlgen recovered, with the
// stack of the panicking goroutine (the recover func runs in the
// deferred call, before the stack unwinds).
func logPanic(ctx context.Context, log *slog.Logger, v any) {
	log.LogAttrs(ctx, slog.LevelError, "graphql resolver panicked", append(requestAttrs(ctx, graphql.GetPath(ctx)),
		slog.Any("panic", v),
		slog.String("stack", string(debug.Stack())))...)
}

// logHidden logs cause, the failure answered at path as "internal error",
// once per request: the batch of App.webhooks gives its one failure to
// every app of the answer (up to 500 errors of one cause).
func logHidden(ctx context.Context, log *slog.Logger, path ast.Path, cause error) {
	if !callerOf(ctx).firstLog(cause.Error()) {
		return
	}
	log.LogAttrs(ctx, slog.LevelError, "graphql field failed", append(requestAttrs(ctx, path),
		slog.String("error", cause.Error()))...)
}

// requestAttrs name the request, its operation and the field at path.
func requestAttrs(ctx context.Context, path ast.Path) []slog.Attr {
	attrs := []slog.Attr{slog.String("request_id", callerOf(ctx).header.Get(httpapi.HeaderRequestID))}
	if graphql.HasOperationContext(ctx) {
		if op := graphql.GetOperationContext(ctx); op.OperationName != "" {
			attrs = append(attrs, slog.String("operation", op.OperationName))
		} else if op.Operation != nil {
			attrs = append(attrs, slog.String("operation", op.Operation.Name))
		}
	}
	if len(path) > 0 {
		attrs = append(attrs, slog.String("path", path.String()))
	}
	return attrs
}

// firstLog reports whether cause is logged for the first time for the
// request of c.
func (c *caller) firstLog(cause string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.logged[cause] {
		return false
	}
	if c.logged == nil {
		c.logged = map[string]bool{}
	}
	c.logged[cause] = true
	return true
}
