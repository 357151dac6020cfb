package authz

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// Catalog serves the tenant's scope and event-type catalogs (API.md
// "Scope and event-type catalogs"): any valid token of the tenant reads
// them (scope discovery); platform:catalog:write changes them. Each
// entry is an aggregate of the control stream (events.ScopeRef,
// events.EventTypeRef): a command expects the entry's last sequence, so
// of two concurrent definitions of one name one wins and the other is
// answered 409.
type Catalog struct {
	Log     events.Log
	Store   projections.Reader
	Entries *catalog.Tenant
	WaitFor func(ctx context.Context, s events.Stream, seq uint64) error
	CatchUp func(ctx context.Context) error
	Now     func() time.Time
	Idem    *Idempotency
}

// Register adds the catalog routes under g (/v1/platform). Scope names
// hold ':' (cases:read); a name may also come percent-encoded.
func (c *Catalog) Register(g *echo.Group, auth *oauth.Authenticator) {
	write := auth.Require("platform:catalog:write")
	g.GET("/scopes", scopeKind.listRoute(c), auth.Require(""))
	g.POST("/scopes", c.createScope, write, c.Idem.Middleware)
	g.GET("/scopes/:name", scopeKind.getRoute(c), auth.Require(""))
	g.PATCH("/scopes/:name", c.patchScope, write)
	g.DELETE("/scopes/:name", c.deleteScope, write)
	g.GET("/event-types", eventTypeKind.listRoute(c), auth.Require(""))
	g.POST("/event-types", c.createEventType, write, c.Idem.Middleware)
	g.GET("/event-types/:name", eventTypeKind.getRoute(c), auth.Require(""))
	g.DELETE("/event-types/:name", c.deleteEventType, write)
	c.registerPolicies(g, auth)
}

// scopeEntryJSON is a scope of the catalog as the API shows it.
type scopeEntryJSON struct {
	catalog.Scope
	Version uint64 `json:"version"`
}

// entryName is the {name} of a catalog route, percent-decoded.
func entryName(c echo.Context) string {
	n := c.Param("name")
	if u, err := url.PathUnescape(n); err == nil {
		return u
	}
	return n
}

func (c *Catalog) createScope(ctx echo.Context) error {
	p := oauth.PrincipalOf(ctx)
	var req scopeRequest
	if err := httpapi.BindJSON(ctx, &req); err != nil {
		return err
	}
	entry, fe := req.validate()
	if len(fe) > 0 {
		return httpapi.Validation(fe...)
	}
	if _, builtin := catalog.BuiltinScope(req.Name); builtin {
		return httpapi.Conflict(fmt.Sprintf("%q is a built-in scope", req.Name))
	}
	reqCtx := ctx.Request().Context()
	ev := &events.ScopeDefined{Name: entry.Name, Description: entry.Description, RequiresApproval: entry.RequiresApproval, ApprovalsRequired: entry.ApprovalsRequired}
	err := c.command(reqCtx, p, events.ScopeRef(p.Tenant, req.Name), func() (events.Payload, uint64, error) {
		return c.definition(reqCtx, projections.KindScope, p.Tenant, req.Name, ev)
	})
	if err != nil {
		return err
	}
	return scopeKind.answer(ctx, c, http.StatusCreated, p.Tenant, req.Name)
}

// patchScope changes a tenant scope. A changed approval rule applies to
// decisions made after it; grants keep their status.
func (c *Catalog) patchScope(ctx echo.Context) error {
	var req scopePatchRequest
	if err := httpapi.BindJSON(ctx, &req); err != nil {
		return err
	}
	valid := func() error {
		if fe := req.validate(); len(fe) > 0 {
			return httpapi.Validation(fe...)
		}
		return nil
	}
	name, err := scopeKind.change(ctx, c, "changed", valid, func(_ context.Context, s projections.CatalogScope) (events.Payload, error) {
		if upd, changed := req.changes(s); changed {
			return upd, nil
		}
		return nil, nil
	})
	if err != nil {
		return err
	}
	return scopeKind.answer(ctx, c, http.StatusOK, oauth.PrincipalOf(ctx).Tenant, name)
}

// deleteScope removes a tenant scope. Built-in scopes cannot be removed,
// nor a scope an event type of the catalog names. Apps keep the grants
// they have; the scope can no longer be requested.
func (c *Catalog) deleteScope(ctx echo.Context) error {
	_, err := scopeKind.change(ctx, c, "removed", nil, func(ctx context.Context, s projections.CatalogScope) (events.Payload, error) {
		users, err := c.eventTypesNeeding(ctx, s.Tenant, s.Name)
		if err != nil {
			return nil, err
		}
		if len(users) > 0 {
			return nil, httpapi.Conflict(fmt.Sprintf("event types need %q: %s; remove them first", s.Name, strings.Join(users, ", ")))
		}
		return &events.ScopeDeleted{Name: s.Name}, nil
	})
	if err != nil {
		return err
	}
	return ctx.NoContent(http.StatusNoContent)
}

// eventTypesNeeding lists the tenant's event types that name scope.
func (c *Catalog) eventTypesNeeding(ctx context.Context, tenant, scope string) ([]string, error) {
	var users []string
	err := eachPage(func(pg projections.Page) (string, error) {
		page, next, err := projections.ListCatalogEventTypes(ctx, c.Store, tenant, pg)
		for _, t := range page {
			if t.Scope == scope {
				users = append(users, t.Name)
			}
		}
		return next, err
	})
	return users, err
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

// checkCurrent judges the read of the entry a command changes, as of
// this attempt: 404 when it is gone, 412 when If-Match named another
// version than version.
func checkCurrent(err error, version, match uint64) error {
	if errors.Is(err, projections.ErrNotFound) {
		return httpapi.NotFound("catalog entry")
	}
	if err != nil {
		return err
	}
	return command.Match(match, version)
}

// definition decides the definition of a new entry: 409 when the name is
// taken, else the payload expecting the name's aggregate where the
// projection last saw it (0, or the deletion of an earlier entry).
func (c *Catalog) definition(ctx context.Context, kind, tenant, name string, payload events.Payload) (events.Payload, uint64, error) {
	var err error
	if kind == projections.KindScope {
		_, err = projections.GetCatalogScope(ctx, c.Store, tenant, name)
	} else {
		_, err = projections.GetCatalogEventType(ctx, c.Store, tenant, name)
	}
	if err == nil {
		return nil, 0, httpapi.Conflict(fmt.Sprintf("%q is already in the catalog", name))
	}
	if !errors.Is(err, projections.ErrNotFound) {
		return nil, 0, err
	}
	last, err := projections.CatalogLastSeq(ctx, c.Store, kind, tenant, name)
	return payload, last, err
}

// command runs decide on the command path. decide returns the event about
// ref and the sequence ref must be at; no event and no error means there
// is nothing to change.
func (c *Catalog) command(ctx context.Context, p oauth.Principal, ref events.Ref, decide func() (events.Payload, uint64, error)) error {
	_, err := command.Run(ctx, command.Deps{Log: c.Log, WaitFor: c.WaitFor}, func(context.Context, int) (command.Decision, error) {
		payload, last, err := decide()
		if err != nil || payload == nil {
			return command.Decision{}, err
		}
		evs, err := events.NewAll(oauth.ActorOf(p), c.Now(), events.Change{Ref: ref, Payload: payload})
		return command.Decision{Append: events.Append{Events: evs, Expect: []events.Expect{{Ref: ref, Seq: last}}}}, err
	})
	return err
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
	Description       string `json:"description" text:"multiline"`
	RequiresApproval  *bool  `json:"requires_approval"`
	ApprovalsRequired *int   `json:"approvals_required"`
}

// validate applies the defaults (requires_approval true, one approval)
// and the rules.
func (r scopeRequest) validate() (catalog.Scope, fieldErrs) {
	entry := catalog.Scope{Name: r.Name, Description: r.Description, RequiresApproval: true, ApprovalsRequired: 1}
	setIf(&entry.RequiresApproval, r.RequiresApproval)
	setIf(&entry.ApprovalsRequired, r.ApprovalsRequired)
	var fe fieldErrs
	checkName(&fe, r.Name, scopeNameRE, "a scope name like cases:read (lower-case letters, digits, _ . - and : separators)")
	if catalog.Reserved(r.Name) {
		fe.add("name", "the %s prefix is reserved for the server's own scopes", catalog.ReservedPrefix)
	}
	checkDescription(&fe, r.Description)
	checkApprovals(&fe, entry.ApprovalsRequired)
	return entry, fe
}

// scopePatchRequest is the body of PATCH /v1/platform/scopes/{name}: an
// absent field does not change.
type scopePatchRequest struct {
	Description       *string `json:"description" text:"multiline"`
	RequiresApproval  *bool   `json:"requires_approval"`
	ApprovalsRequired *int    `json:"approvals_required"`
}

func (r scopePatchRequest) validate() fieldErrs {
	var fe fieldErrs
	if r.Description != nil {
		checkDescription(&fe, *r.Description)
	}
	if r.ApprovalsRequired != nil {
		checkApprovals(&fe, *r.ApprovalsRequired)
	}
	return fe
}

// changes is the scope.updated event of the fields that differ from cur.
func (r scopePatchRequest) changes(cur projections.CatalogScope) (*events.ScopeUpdated, bool) {
	upd := &events.ScopeUpdated{Name: cur.Name}
	if r.Description != nil && *r.Description != cur.Description {
		upd.Description = r.Description
	}
	if r.RequiresApproval != nil && *r.RequiresApproval != cur.RequiresApproval {
		upd.RequiresApproval = r.RequiresApproval
	}
	if r.ApprovalsRequired != nil && *r.ApprovalsRequired != cur.ApprovalsRequired {
		upd.ApprovalsRequired = r.ApprovalsRequired
	}
	return upd, upd.Description != nil || upd.RequiresApproval != nil || upd.ApprovalsRequired != nil
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

func checkApprovals(fe *fieldErrs, n int) {
	if n < 1 || n > maxApprovalsNeeded {
		fe.add("approvals_required", "must be from 1 to %d", maxApprovalsNeeded)
	}
}
