package authz

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// This file is the shape every platform resource's handlers share (apps,
// webhooks, and identity's users): a list answers one page of the
// tenant's documents (ListPage); a read of one resource waits once for
// the projection on a miss (Load); an answer that shows one resource
// carries its version as the ETag (Versioned), which If-Match of the next
// change names (IfMatch). Changes go through command.Run; DELETE of one
// resource is Remove.

// Deps is what the handlers of every platform resource (Apps, Webhooks,
// Catalog, identity's Users) read, append and wait through; they embed
// it, and the wiring makes it once.
type Deps struct {
	Log   events.Log
	Store projections.Reader
	// WaitFor waits until the projections have applied stream s up to
	// seq (an append's sequence); CatchUp until they have applied the log
	// as it is now.
	WaitFor func(ctx context.Context, s events.Stream, seq uint64) error
	CatchUp func(ctx context.Context) error
	Now     func() time.Time
	// Idem makes POSTs idempotent by Idempotency-Key.
	Idem *Idempotency
}

// Handler is a platform API handler given what every one of them reads
// first: the request's context and its caller (oauth.PrincipalOf, set by
// the Authenticator's middleware before the handler runs).
type Handler func(ctx context.Context, c echo.Context, p oauth.Principal) error

// Handle adapts h to echo.
func Handle(h Handler) echo.HandlerFunc {
	return func(c echo.Context) error { return h(c.Request().Context(), c, oauth.PrincipalOf(c)) }
}

// HandleBody adapts h, the handler of a JSON body, to echo: the body is
// bound to a new R first (httpapi.BindJSON: strict; what it refuses is
// answered 400 and h does not run).
func HandleBody[R any](h func(ctx context.Context, c echo.Context, p oauth.Principal, req R) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		var req R
		if err := httpapi.BindJSON(c, &req); err != nil {
			return err
		}
		return h(c.Request().Context(), c, oauth.PrincipalOf(c), req)
	}
}

// HandleChange adapts h, a change with a JSON body of the resource r
// that the request's :id names, to echo: the resource is read for the
// caller first (r.Managed: 404, 403) and the body bound after
// (HandleBody), so that a caller who may not change it learns nothing
// else.
func HandleChange[V, R any](r Resource[V], h func(ctx context.Context, c echo.Context, p oauth.Principal, cur V, req R) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, p := c.Request().Context(), oauth.PrincipalOf(c)
		cur, err := r.Managed(ctx, p, c.Param("id"))
		if err != nil {
			return err
		}
		var req R
		if err := httpapi.BindJSON(c, &req); err != nil {
			return err
		}
		return h(ctx, c, p, cur, req)
	}
}

// Command is the command path's dependencies: appends to Log, then
// waits with WaitFor.
func (d Deps) Command() command.Deps { return command.Deps{Log: d.Log, WaitFor: d.WaitFor} }

// Decided runs decide on the command path (again after each lost race),
// then reads the resource it changed back with get: the zero value once
// deleted.
func Decided[V any](ctx context.Context, d Deps, decide func(context.Context) (events.Append, error), get func(context.Context) (V, error)) (V, error) {
	var v V
	_, err := command.Run(ctx, d.Command(), func(ctx context.Context, _ int) (command.Decision, error) {
		ap, err := decide(ctx)
		return command.Decision{Append: ap}, err
	})
	if err != nil {
		return v, err
	}
	v, err = get(ctx)
	if errors.Is(err, projections.ErrNotFound) {
		var deleted V
		return deleted, nil
	}
	return v, err
}

// ListPage answers GET of a collection (API.md "Conventions": ?limit=,
// ?cursor=, next_cursor): one page of list, each item as render shows it.
func ListPage[V, J any](c echo.Context, list func(context.Context, projections.Page) ([]V, string, error), render func(V) J) error {
	return answerPage(c, func(ctx context.Context, _ oauth.Principal, page projections.Page) (Page[J], error) {
		return readPage(ctx, page, list, render)
	})
}

// answerPage answers GET of a collection with the page read gives the
// caller for ?limit= and ?cursor=.
func answerPage[J any](c echo.Context, read func(context.Context, oauth.Principal, projections.Page) (Page[J], error)) error {
	page, err := pageParams(c)
	if err != nil {
		return err
	}
	out, err := read(c.Request().Context(), oauth.PrincipalOf(c), page)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// readPage is one page of list, each item as render shows it; a cursor
// list did not return is the validation error on "cursor".
func readPage[V, J any](ctx context.Context, page projections.Page, list func(context.Context, projections.Page) ([]V, string, error), render func(V) J) (Page[J], error) {
	vs, next, err := list(ctx, page)
	if errors.Is(err, projections.ErrInvalid) {
		return Page[J]{}, badCursor()
	}
	if err != nil {
		return Page[J]{}, err
	}
	out := Page[J]{Items: make([]J, len(vs)), NextCursor: next}
	for i, v := range vs {
		out.Items[i] = render(v)
	}
	return out, nil
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

// Resource is how the handlers of one kind of platform resource V read
// the one a request names: What names it in a 404; Get reads one of a
// tenant's (projections.ErrNotFound when there is none); May refuses
// (403) a caller who may not change it.
type Resource[V any] struct {
	What    string
	CatchUp func(context.Context) error
	Get     func(ctx context.Context, tenant, id string) (V, error)
	May     func(oauth.Principal, V) error
}

// Load reads id of tenant (Load: a miss waits once for the projection,
// then is 404); another tenant's is 404 like a missing one.
func (r Resource[V]) Load(ctx context.Context, tenant, id string) (V, error) {
	return Load(ctx, r.What, r.CatchUp, func(ctx context.Context) (V, error) { return r.Get(ctx, tenant, id) })
}

// Managed loads id of p's tenant for a change and checks that p may
// make it (May) before anything else is looked at: the caller learns
// nothing of what it may not change. Commands check again on the state
// they decide on.
func (r Resource[V]) Managed(ctx context.Context, p oauth.Principal, id string) (V, error) {
	v, err := r.Load(ctx, p.Tenant, id)
	if err != nil {
		return v, err
	}
	return v, r.May(p, v)
}

// Current reads the resource a command decides on, as of this attempt,
// with get: a miss is 404 naming what; another version than match (0:
// any) is 412.
func Current[V any](ctx context.Context, what string, get func(context.Context) (V, error), version func(V) uint64, match uint64) (V, error) {
	v, err := get(ctx)
	if errors.Is(err, projections.ErrNotFound) {
		return v, httpapi.NotFound(what)
	}
	if err != nil {
		return v, err
	}
	return v, command.Match(match, version(v))
}

// Versioned answers body, a resource at version, with status and its
// ETag.
func Versioned(c echo.Context, status int, version uint64, body any) error {
	c.Response().Header().Set("ETag", etag(version))
	return c.JSON(status, body)
}

// Removal is what Remove needs of one kind of resource V.
type Removal[V any] struct {
	// What names the resource in a 404.
	What    string
	CatchUp func(context.Context) error
	Deps    command.Deps
	Now     time.Time
	// Get reads the resource (projections.ErrNotFound when there is
	// none); Version is its API version (the ETag If-Match names).
	Get     func(context.Context) (V, error)
	Version func(V) uint64
	// Before, when set, runs once the resource is read and If-Match
	// checked; handled: it answered instead (an approval activity).
	Before func(V) (handled bool, err error)
	// Decide returns the events that remove v, as read in this attempt
	// of the command, and their expectations; a refusal (409 while other
	// resources refer to it) is its error.
	Decide func(context.Context, V) ([]events.Change, []events.Expect, error)
	// After, when set, runs once the removal is appended and applied,
	// with the resource as read before; its error is the answer's.
	After func(context.Context, V) error
}

// Remove answers DELETE of one resource: read it (Load: a miss waits
// once for the projection, then 404), check If-Match, then on the
// command path read it again (gone: 404; another version: 412), decide
// and append its removal as the caller, and answer 204.
func Remove[V any](c echo.Context, r Removal[V]) error {
	ctx := c.Request().Context()
	cur, err := Load(ctx, r.What, r.CatchUp, r.Get)
	if err != nil {
		return err
	}
	match, err := ifMatch(c, r.Version(cur))
	if err != nil {
		return err
	}
	if r.Before != nil {
		if handled, err := r.Before(cur); handled {
			return err
		}
	}
	actor := oauth.ActorOf(oauth.PrincipalOf(c))
	_, err = command.Run(ctx, r.Deps, func(ctx context.Context, _ int) (command.Decision, error) {
		v, err := Current(ctx, r.What, r.Get, r.Version, match)
		if err != nil {
			return command.Decision{}, err
		}
		pairs, expect, err := r.Decide(ctx, v)
		if err != nil {
			return command.Decision{}, err
		}
		evs, err := events.NewAll(actor, r.Now, pairs...)
		return command.Decision{Append: events.Append{Events: evs, Expect: expect}}, err
	})
	if err != nil {
		return err
	}
	if r.After != nil {
		if err := r.After(ctx, cur); err != nil {
			return err
		}
	}
	return c.NoContent(http.StatusNoContent)
}

// Show answers GET of one resource: read it (Load: a miss waits once
// for the projection, then 404 naming what) and answer it as render
// shows it, with its version as the ETag.
func Show[V, J any](c echo.Context, what string, catchUp func(context.Context) error, get func(context.Context) (V, error), version func(V) uint64, render func(V) J) error {
	v, err := Load(c.Request().Context(), what, catchUp, get)
	if err != nil {
		return err
	}
	return Versioned(c, http.StatusOK, version(v), render(v))
}

// Named reads what the request's path parameter id names in the
// caller's tenant with get (a projection's getter: another tenant's is
// ErrNotFound), for Load, Show and Removal.Get.
func Named[V any](c echo.Context, r projections.Reader, get func(context.Context, projections.Reader, string, string) (V, error)) func(context.Context) (V, error) {
	tenant, id := oauth.PrincipalOf(c).Tenant, c.Param("id")
	return func(ctx context.Context) (V, error) { return get(ctx, r, tenant, id) }
}

// Listed lists the caller's tenant's resources with list (a projection's
// lister), for ListPage.
func Listed[V any](c echo.Context, r projections.Reader, list func(context.Context, projections.Reader, string, projections.Page) ([]V, string, error)) func(context.Context, projections.Page) ([]V, string, error) {
	tenant := oauth.PrincipalOf(c).Tenant
	return func(ctx context.Context, p projections.Page) ([]V, string, error) { return list(ctx, r, tenant, p) }
}
