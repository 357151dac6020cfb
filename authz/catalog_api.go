package authz

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
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
	Deps
	Entries *catalog.Tenant
}

// Register adds the catalog routes under g (/v1/platform). Scope names
// hold ':' (cases:read); a name may also come percent-encoded.
func (c *Catalog) Register(g *echo.Group, auth *oauth.Authenticator) {
	write := auth.Require("platform:catalog:write")
	g.GET("/scopes", scopeKind.listRoute(c), auth.Require(""))
	g.POST("/scopes", HandleBody(c.createScope), write, c.Idem.Middleware)
	g.GET("/scopes/:name", scopeKind.getRoute(c), auth.Require(""))
	g.PATCH("/scopes/:name", HandleBody(c.patchScope), write)
	g.DELETE("/scopes/:name", scopeKind.removeRoute(c, c.scopeRemoval), write)
	g.GET("/event-types", eventTypeKind.listRoute(c), auth.Require(""))
	g.POST("/event-types", HandleBody(c.createEventType), write, c.Idem.Middleware)
	g.GET("/event-types/:name", eventTypeKind.getRoute(c), auth.Require(""))
	g.DELETE("/event-types/:name", eventTypeKind.removeRoute(c, eventTypeRemoval), write)
	c.registerPolicies(g, auth)
}

// entryKind is one kind of catalog entry, scopes or event types: the
// built-in entries B of package catalog (at catalog.BuiltinVersion) and the
// tenant's own, documents D of the projections, both answered as J. The
// routes that read, change and remove entries are the same for both kinds.
type entryKind[B, D, J any] struct {
	// what names the kind in a 404 ("scope", "event type") and a 409;
	// builtins in a 409.
	what, builtinsAre string
	// docKind is the projections' document kind of the tenant's entries.
	docKind   string
	builtins  []B
	builtin   func(name string) (B, bool)
	ofBuiltin func(b B, version uint64) J
	get       func(ctx context.Context, r projections.Reader, tenant, name string) (D, error)
	list      func(ctx context.Context, r projections.Reader, tenant string, p projections.Page) ([]D, string, error)
	of        func(D) J
	version   func(D) uint64
	lastSeq   func(D) uint64
	ref       func(tenant, name string) events.Ref
}

var scopeKind = entryKind[catalog.Scope, projections.CatalogScope, scopeEntryJSON]{
	what:        "scope",
	docKind:     projections.KindScope,
	builtinsAre: "built-in scopes",
	ref:         events.ScopeRef,
	lastSeq:     func(s projections.CatalogScope) uint64 { return s.LastSeq },
	builtins:    catalog.BuiltinScopes,
	builtin:     catalog.BuiltinScope,
	ofBuiltin:   func(s catalog.Scope, v uint64) scopeEntryJSON { return scopeEntryJSON{Scope: s, Version: v} },
	get:         projections.GetCatalogScope,
	list:        projections.ListCatalogScopes,
	of: func(s projections.CatalogScope) scopeEntryJSON {
		return scopeEntryJSON{Scope: catalog.ScopeOf(s), Version: s.Version}
	},
	version: func(s projections.CatalogScope) uint64 { return s.Version },
}

var eventTypeKind = entryKind[catalog.EventType, projections.CatalogEventType, eventTypeEntryJSON]{
	what:        "event type",
	docKind:     projections.KindEventType,
	builtinsAre: "built-in types",
	ref:         events.EventTypeRef,
	lastSeq:     func(t projections.CatalogEventType) uint64 { return t.LastSeq },
	builtins:    catalog.BuiltinEventTypes,
	builtin:     catalog.BuiltinEventType,
	ofBuiltin: func(t catalog.EventType, v uint64) eventTypeEntryJSON {
		return eventTypeEntryJSON{EventType: t, Version: v}
	},
	get:  projections.GetCatalogEventType,
	list: projections.ListCatalogEventTypes,
	of: func(t projections.CatalogEventType) eventTypeEntryJSON {
		return eventTypeEntryJSON{EventType: catalog.EventTypeOf(t), Version: t.Version}
	},
	version: func(t projections.CatalogEventType) uint64 { return t.Version },
}

// listRoute serves the kind's list: the built-in entries, then the
// tenant's (catalogPage).
func (k entryKind[B, D, J]) listRoute(c *Catalog) echo.HandlerFunc {
	return func(ctx echo.Context) error {
		tenant := oauth.PrincipalOf(ctx).Tenant
		builtins := make([]J, len(k.builtins))
		for i, b := range k.builtins {
			builtins[i] = k.ofBuiltin(b, catalog.BuiltinVersion)
		}
		return catalogPage(ctx, builtins, func(p projections.Page) ([]J, string, error) {
			page, next, err := k.list(ctx.Request().Context(), c.Store, tenant, p)
			items := make([]J, len(page))
			for i, d := range page {
				items[i] = k.of(d)
			}
			return items, next, err
		})
	}
}

// getRoute serves one entry of the kind, built-in or the tenant's.
func (k entryKind[B, D, J]) getRoute(c *Catalog) echo.HandlerFunc {
	return func(ctx echo.Context) error {
		name := entryName(ctx)
		if b, ok := k.builtin(name); ok {
			return Versioned(ctx, http.StatusOK, catalog.BuiltinVersion, k.ofBuiltin(b, catalog.BuiltinVersion))
		}
		return k.answer(ctx, c, http.StatusOK, oauth.PrincipalOf(ctx).Tenant, name)
	}
}

// load reads a tenant entry; a miss waits for the projection to catch up
// with the log once (it may have been defined through another instance).
func (k entryKind[B, D, J]) load(ctx context.Context, c *Catalog, tenant, name string) (D, error) {
	return Load(ctx, k.what, c.CatchUp, func(ctx context.Context) (D, error) {
		return k.get(ctx, c.Store, tenant, name)
	})
}

// answer answers tenant entry name as the projection has it.
func (k entryKind[B, D, J]) answer(ctx echo.Context, c *Catalog, status int, tenant, name string) error {
	d, err := k.load(ctx.Request().Context(), c, tenant, name)
	if err != nil {
		return err
	}
	return Versioned(ctx, status, k.version(d), k.of(d))
}

// define runs the definition of tenant entry name with payload (409 when
// the name is built-in or taken) and answers the new entry, 201.
func (k entryKind[B, D, J]) define(ctx echo.Context, c *Catalog, name string, payload events.Payload) error {
	p := oauth.PrincipalOf(ctx)
	if _, builtin := k.builtin(name); builtin {
		return httpapi.Conflict(fmt.Sprintf("%q is a built-in %s", name, k.what))
	}
	reqCtx := ctx.Request().Context()
	err := c.command(reqCtx, p, k.ref(p.Tenant, name), func() (events.Payload, uint64, error) {
		return c.definition(reqCtx, k.docKind, p.Tenant, name, payload)
	})
	if err != nil {
		return err
	}
	return k.answer(ctx, c, http.StatusCreated, p.Tenant, name)
}

// removeRoute serves the DELETE of an entry of the kind: change with the
// payload decide returns, then 204.
func (k entryKind[B, D, J]) removeRoute(c *Catalog, decide func(ctx context.Context, cur D) (events.Payload, error)) echo.HandlerFunc {
	return func(ctx echo.Context) error {
		if _, err := k.change(ctx, c, "removed", nil, decide); err != nil {
			return err
		}
		return ctx.NoContent(http.StatusNoContent)
	}
}

// change runs the command of a PATCH or DELETE of the route's entry (done:
// "changed", "removed"): a built-in entry is 409; If-Match is checked on
// the entry as loaded, then valid (when set) on the request, then each
// attempt checks If-Match again on the entry it decides on, with decide
// (a nil payload: nothing to change). It returns the entry's name.
func (k entryKind[B, D, J]) change(ctx echo.Context, c *Catalog, done string, valid func() error, decide func(ctx context.Context, cur D) (events.Payload, error)) (string, error) {
	p := oauth.PrincipalOf(ctx)
	name := entryName(ctx)
	if _, builtin := k.builtin(name); builtin {
		return name, httpapi.Conflict(fmt.Sprintf("%q is a built-in %s: %s cannot be %s", name, k.what, k.builtinsAre, done))
	}
	reqCtx := ctx.Request().Context()
	d, err := k.load(reqCtx, c, p.Tenant, name)
	if err != nil {
		return name, err
	}
	match, err := ifMatch(ctx, k.version(d))
	if err != nil {
		return name, err
	}
	if valid != nil {
		if err := valid(); err != nil {
			return name, err
		}
	}
	return name, c.command(reqCtx, p, k.ref(p.Tenant, name), func() (events.Payload, uint64, error) {
		cur, err := k.get(reqCtx, c.Store, p.Tenant, name)
		if err = checkCurrent(err, k.version(cur), match); err != nil {
			return nil, 0, err
		}
		payload, err := decide(reqCtx, cur)
		return payload, k.lastSeq(cur), err
	})
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

func (c *Catalog) createScope(_ context.Context, ctx echo.Context, _ oauth.Principal, req scopeRequest) error {
	entry, fe := req.validate()
	if len(fe) > 0 {
		return httpapi.Validation(fe...)
	}
	return scopeKind.define(ctx, c, req.Name, &events.ScopeDefined{Name: entry.Name, Description: entry.Description,
		RequiresApproval: entry.RequiresApproval, ApprovalsRequired: entry.ApprovalsRequired})
}

// patchScope changes a tenant scope. A changed approval rule applies to
// decisions made after it; grants keep their status.
func (c *Catalog) patchScope(_ context.Context, ctx echo.Context, p oauth.Principal, req scopePatchRequest) error {
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
	return scopeKind.answer(ctx, c, http.StatusOK, p.Tenant, name)
}

// scopeRemoval decides the DELETE of a tenant scope. Built-in scopes
// cannot be removed, nor a scope an event type of the catalog names. Apps
// keep the grants they have; the scope can no longer be requested.
func (c *Catalog) scopeRemoval(ctx context.Context, s projections.CatalogScope) (events.Payload, error) {
	users, err := c.eventTypesNeeding(ctx, s.Tenant, s.Name)
	if err != nil {
		return nil, err
	}
	if len(users) > 0 {
		return nil, httpapi.Conflict(fmt.Sprintf("event types need %q: %s; remove them first", s.Name, strings.Join(users, ", ")))
	}
	return &events.ScopeDeleted{Name: s.Name}, nil
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
	_, err := command.Run(ctx, c.Command(), func(context.Context, int) (command.Decision, error) {
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
	if slices.Contains(oauth.OIDCScopes, r.Name) {
		fe.add("name", "%s is an OpenID Connect scope of the server (%s)", r.Name, strings.Join(oauth.OIDCScopes, ", "))
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

// The event-type catalog (API.md "Scope and event-type catalogs"): each
// type names the scope an app needs approved to subscribe to and receive
// it.

// eventTypeRequest is the body of POST /v1/platform/event-types.
type eventTypeRequest struct {
	Name        string `json:"name"`
	Description string `json:"description" text:"multiline"`
	Scope       string `json:"scope"`
}

// eventTypeEntryJSON is an event type of the catalog as the API shows it.
type eventTypeEntryJSON struct {
	catalog.EventType
	Version uint64 `json:"version"`
}

func (c *Catalog) createEventType(reqCtx context.Context, ctx echo.Context, p oauth.Principal, req eventTypeRequest) error {
	var fe fieldErrs
	checkName(&fe, req.Name, eventTypeNameRE, "an event type like case.updated (lower-case words separated by dots)")
	checkDescription(&fe, req.Description)
	if _, ok, err := requiredEntry(reqCtx, &fe, "scope", "scope", p.Tenant, req.Scope, c.Entries.LookupScope); err != nil {
		return err
	} else if ok && catalog.Reserved(req.Scope) {
		fe.add("scope", "scope %q is reserved for the bootstrap admin: no app can be granted it", req.Scope)
	}
	if len(fe) > 0 {
		return httpapi.Validation(fe...)
	}
	return eventTypeKind.define(ctx, c, req.Name, &events.EventTypeDefined{Name: req.Name, Description: req.Description, Scope: req.Scope})
}

// eventTypeRemoval decides the DELETE of a tenant event type; built-in
// ones stay. Webhooks subscribed to it receive no more of it.
func eventTypeRemoval(_ context.Context, t projections.CatalogEventType) (events.Payload, error) {
	return &events.EventTypeDeleted{Name: t.Name}, nil
}
