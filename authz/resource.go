package authz

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/projections"
)

// This file is the shape every platform resource's handlers share (apps,
// webhooks, and identity's users): a list answers one page of the
// tenant's documents (ListPage); a read of one resource waits once for
// the projection on a miss (Load); an answer that shows one resource
// carries its version as the ETag (Versioned), which If-Match of the next
// change names (IfMatch). Changes go through command.Run.

// ListPage answers GET of a collection (API.md "Conventions": ?limit=,
// ?cursor=, next_cursor): one page of list, each item as render shows it.
func ListPage[V, J any](c echo.Context, list func(context.Context, projections.Page) ([]V, string, error), render func(V) J) error {
	page, err := pageParams(c)
	if err != nil {
		return err
	}
	vs, next, err := list(c.Request().Context(), page)
	if errors.Is(err, projections.ErrInvalid) {
		return badCursor()
	}
	if err != nil {
		return err
	}
	items := make([]J, len(vs))
	for i, v := range vs {
		items[i] = render(v)
	}
	return c.JSON(http.StatusOK, Page[J]{Items: items, NextCursor: next})
}

// Load reads one resource (what names it in a 404) with get; a miss
// waits for the projection to catch up with the log once (another
// instance may have made it) and reads again.
func Load[V any](ctx context.Context, what string, catchUp func(context.Context) error, get func(context.Context) (V, error)) (V, error) {
	v, err := get(ctx)
	if errors.Is(err, projections.ErrNotFound) {
		if err := catchUp(ctx); err != nil {
			return v, err
		}
		v, err = get(ctx)
	}
	if errors.Is(err, projections.ErrNotFound) {
		return v, httpapi.NotFound(what)
	}
	return v, err
}

// Versioned answers body, a resource at version, with status and its
// ETag.
func Versioned(c echo.Context, status int, version uint64, body any) error {
	c.Response().Header().Set("ETag", etag(version))
	return c.JSON(status, body)
}
