package authz

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// Catalog serves the tenant's scope and event-type catalogs (API.md
// "Scope and event-type catalogs"): any valid token of the tenant reads
// them (scope discovery); platform:catalog:write adds to them.
type Catalog struct {
	Log     events.Log
	Store   projections.Reader
	Entries *TenantCatalog
	WaitFor func(ctx context.Context, s events.Stream, seq uint64) error
	CatchUp func(ctx context.Context) error
	Now     func() time.Time
	Idem    *Idempotency
}

// Register adds the catalog routes under g (/v1/platform).
func (c *Catalog) Register(g *echo.Group, auth *Authenticator) {
	g.GET("/scopes", c.listScopes, auth.Require(""))
	g.POST("/scopes", c.createScope, auth.Require("platform:catalog:write"), c.Idem.Middleware)
	g.GET("/event-types", c.listEventTypes, auth.Require(""))
	g.POST("/event-types", c.createEventType, auth.Require("platform:catalog:write"), c.Idem.Middleware)
	g.DELETE("/scopes/:name", c.deleteScope, auth.Require("platform:catalog:write"))
	g.DELETE("/event-types/:name", c.deleteEventType, auth.Require("platform:catalog:write"))
}

// deleteScope removes a tenant scope. Built-in scopes cannot be removed,
// nor a scope an event type of the catalog names. Apps keep the grants
// they have; the scope can no longer be requested.
func (c *Catalog) deleteScope(ctx echo.Context) error {
	p := principal(ctx)
	name := ctx.Param("name")
	if _, builtin := builtinScope(name); builtin {
		return Conflict(fmt.Sprintf("%q is a built-in scope: built-in scopes cannot be removed", name))
	}
	reqCtx := ctx.Request().Context()
	var users []string
	err := eachPage(func(pg projections.Page) (string, error) {
		page, next, err := projections.ListCatalogEventTypes(reqCtx, c.Store, p.Tenant, pg)
		for _, t := range page {
			if t.Scope == name {
				users = append(users, t.Name)
			}
		}
		return next, err
	})
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return Conflict(fmt.Sprintf("event types need %q: %s; remove them first", name, strings.Join(users, ", ")))
	}
	if err := c.remove(reqCtx, p, projections.KindScope, events.ScopeRef(p.Tenant, name), name, &events.ScopeDeleted{Name: name}); err != nil {
		return err
	}
	return ctx.NoContent(http.StatusNoContent)
}

// deleteEventType removes a tenant event type; built-in ones stay.
func (c *Catalog) deleteEventType(ctx echo.Context) error {
	p := principal(ctx)
	name := ctx.Param("name")
	if slices.ContainsFunc(BuiltinEventTypes, func(t EventType) bool { return t.Name == name }) {
		return Conflict(fmt.Sprintf("%q is a built-in event type: built-in types cannot be removed", name))
	}
	if err := c.remove(ctx.Request().Context(), p, projections.KindEventType, events.EventTypeRef(p.Tenant, name), name, &events.EventTypeDeleted{Name: name}); err != nil {
		return err
	}
	return ctx.NoContent(http.StatusNoContent)
}

// remove appends the deletion of an existing catalog entry, expecting its
// last sequence.
func (c *Catalog) remove(ctx context.Context, p Principal, kind string, ref events.Ref, name string, payload events.Payload) error {
	for range maxDecideAttempts {
		_, exists, err := c.exists(ctx, kind, p.Tenant, name)
		if err != nil {
			return err
		}
		if !exists {
			return NotFound("catalog entry")
		}
		last, err := projections.CatalogLastSeq(ctx, c.Store, kind, p.Tenant, name)
		if err != nil {
			return err
		}
		evs, err := newEvents(actorOf(p), c.Now(), refPayload{ref, payload})
		if err != nil {
			return err
		}
		res, err := c.Log.Append(ctx, events.Append{Events: evs, Expect: []events.Expect{{Ref: ref, Seq: last}}})
		if errors.Is(err, events.ErrVersionConflict) {
			if err := c.CatchUp(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		return c.WaitFor(ctx, res.Stream, res.Last())
	}
	return Conflict("the catalog changed concurrently too many times; try again")
}

// Rules of catalog entries.
var (
	scopeNameRE     = regexp.MustCompile(`^[a-z][a-z0-9_.-]*(:[a-z0-9_.-]+)*$`)
	eventTypeNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$`)
)

const (
	maxCatalogName     = 128
	maxDescription     = 1000
	maxApprovalsNeeded = 10
)

// scopeRequest is the body of POST /v1/platform/scopes.
type scopeRequest struct {
	Name              string `json:"name"`
	Description       string `json:"description"`
	RequiresApproval  *bool  `json:"requires_approval"`
	ApprovalsRequired *int   `json:"approvals_required"`
}

// eventTypeRequest is the body of POST /v1/platform/event-types.
type eventTypeRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Scope       string `json:"scope"`
}

// catalogListJSON is the answer of the catalog lists: every entry, the
// built-in ones first (catalogs are small: no pages).
type catalogListJSON[T any] struct {
	Items []T `json:"items"`
}

func (c *Catalog) listScopes(ctx echo.Context) error {
	tenant := principal(ctx).Tenant
	items := slices.Clone(BuiltinScopes)
	err := eachPage(func(p projections.Page) (string, error) {
		page, next, err := projections.ListCatalogScopes(ctx.Request().Context(), c.Store, tenant, p)
		for _, s := range page {
			items = append(items, Scope{Name: s.Name, Description: s.Description, RequiresApproval: s.RequiresApproval, ApprovalsRequired: s.ApprovalsRequired})
		}
		return next, err
	})
	if err != nil {
		return err
	}
	return ctx.JSON(http.StatusOK, catalogListJSON[Scope]{Items: items})
}

func (c *Catalog) listEventTypes(ctx echo.Context) error {
	tenant := principal(ctx).Tenant
	items := slices.Clone(BuiltinEventTypes)
	err := eachPage(func(p projections.Page) (string, error) {
		page, next, err := projections.ListCatalogEventTypes(ctx.Request().Context(), c.Store, tenant, p)
		for _, t := range page {
			items = append(items, EventType{Name: t.Name, Description: t.Description, Scope: t.Scope})
		}
		return next, err
	})
	if err != nil {
		return err
	}
	return ctx.JSON(http.StatusOK, catalogListJSON[EventType]{Items: items})
}

// eachPage calls list for every page of a projection list.
func eachPage(list func(projections.Page) (string, error)) error {
	p := projections.Page{Limit: 500}
	for {
		next, err := list(p)
		if err != nil || next == "" {
			return err
		}
		p.After = next
	}
}

func (c *Catalog) createScope(ctx echo.Context) error {
	p := principal(ctx)
	var req scopeRequest
	if err := BindJSON(ctx, &req); err != nil {
		return err
	}
	entry := Scope{Name: req.Name, Description: req.Description, RequiresApproval: true, ApprovalsRequired: 1}
	setIf(&entry.RequiresApproval, req.RequiresApproval)
	setIf(&entry.ApprovalsRequired, req.ApprovalsRequired)
	var fe fieldErrs
	checkName(&fe, req.Name, scopeNameRE, "a scope name like cases:read (lower-case letters, digits, _ . - and : separators)")
	checkDescription(&fe, req.Description)
	if entry.ApprovalsRequired < 1 || entry.ApprovalsRequired > maxApprovalsNeeded {
		fe.add("approvals_required", "must be from 1 to %d", maxApprovalsNeeded)
	}
	if len(fe) > 0 {
		return Validation(fe...)
	}
	if _, builtin := builtinScope(req.Name); builtin {
		return Conflict(fmt.Sprintf("%q is a built-in scope", req.Name))
	}
	ev := &events.ScopeDefined{Name: entry.Name, Description: entry.Description, RequiresApproval: entry.RequiresApproval, ApprovalsRequired: entry.ApprovalsRequired}
	if err := c.define(ctx.Request().Context(), p, projections.KindScope, events.ScopeRef(p.Tenant, req.Name), req.Name, ev); err != nil {
		return err
	}
	return ctx.JSON(http.StatusCreated, entry)
}

func (c *Catalog) createEventType(ctx echo.Context) error {
	p := principal(ctx)
	var req eventTypeRequest
	if err := BindJSON(ctx, &req); err != nil {
		return err
	}
	var fe fieldErrs
	checkName(&fe, req.Name, eventTypeNameRE, "an event type like case.updated (lower-case words separated by dots)")
	checkDescription(&fe, req.Description)
	reqCtx := ctx.Request().Context()
	if req.Scope == "" {
		fe.add("scope", "is required")
	} else if _, ok, err := c.Entries.LookupScope(reqCtx, p.Tenant, req.Scope); err != nil {
		return err
	} else if !ok {
		fe.add("scope", "unknown scope %q: it is not in the tenant's catalog", req.Scope)
	}
	if len(fe) > 0 {
		return Validation(fe...)
	}
	if slices.ContainsFunc(BuiltinEventTypes, func(t EventType) bool { return t.Name == req.Name }) {
		return Conflict(fmt.Sprintf("%q is a built-in event type", req.Name))
	}
	ev := &events.EventTypeDefined{Name: req.Name, Description: req.Description, Scope: req.Scope}
	if err := c.define(reqCtx, p, projections.KindEventType, events.EventTypeRef(p.Tenant, req.Name), req.Name, ev); err != nil {
		return err
	}
	return ctx.JSON(http.StatusCreated, EventType{Name: req.Name, Description: req.Description, Scope: req.Scope})
}

// define appends the definition of a new catalog entry, expecting its
// aggregate where the projection last saw it: of two concurrent
// definitions of one name, one wins and the other gets 409.
func (c *Catalog) define(ctx context.Context, p Principal, kind string, ref events.Ref, name string, payload events.Payload) error {
	for range maxDecideAttempts {
		if _, exists, err := c.exists(ctx, kind, p.Tenant, name); err != nil {
			return err
		} else if exists {
			return Conflict(fmt.Sprintf("%q is already in the catalog", name))
		}
		last, err := projections.CatalogLastSeq(ctx, c.Store, kind, p.Tenant, name)
		if err != nil {
			return err
		}
		evs, err := newEvents(actorOf(p), c.Now(), refPayload{ref, payload})
		if err != nil {
			return err
		}
		res, err := c.Log.Append(ctx, events.Append{Events: evs, Expect: []events.Expect{{Ref: ref, Seq: last}}})
		if errors.Is(err, events.ErrVersionConflict) {
			if err := c.CatchUp(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		return c.WaitFor(ctx, res.Stream, res.Last())
	}
	return Conflict("the catalog changed concurrently too many times; try again")
}

func (c *Catalog) exists(ctx context.Context, kind, tenant, name string) (any, bool, error) {
	var err error
	if kind == projections.KindScope {
		_, err = projections.GetCatalogScope(ctx, c.Store, tenant, name)
	} else {
		_, err = projections.GetCatalogEventType(ctx, c.Store, tenant, name)
	}
	if errors.Is(err, projections.ErrNotFound) {
		return nil, false, nil
	}
	return nil, err == nil, err
}

func builtinScope(name string) (Scope, bool) {
	i := slices.IndexFunc(BuiltinScopes, func(s Scope) bool { return s.Name == name })
	if i < 0 {
		return Scope{}, false
	}
	return BuiltinScopes[i], true
}

func checkName(fe *fieldErrs, name string, re *regexp.Regexp, want string) {
	switch {
	case name == "":
		fe.add("name", "is required")
	case len(name) > maxCatalogName:
		fe.add("name", "must be at most %d characters", maxCatalogName)
	case !re.MatchString(name):
		fe.add("name", "must be %s", want)
	}
}

func checkDescription(fe *fieldErrs, d string) {
	if utf8.RuneCountInString(d) > maxDescription {
		fe.add("description", "must be at most %d characters", maxDescription)
	}
}
