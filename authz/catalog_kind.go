package authz

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// entryKind is one kind of catalog entry, scopes or event types: the
// built-in entries B of package catalog (at catalog.BuiltinVersion) and the
// tenant's own, documents D of the projections, both answered as J. The
// routes that read, change and remove entries are the same for both kinds.
type entryKind[B, D, J any] struct {
	// what names the kind in a 404 ("scope", "event type") and a 409;
	// builtins in a 409.
	what, builtinsAre string
	builtins          []B
	builtin           func(name string) (B, bool)
	ofBuiltin         func(b B, version uint64) J
	get               func(ctx context.Context, r projections.Reader, tenant, name string) (D, error)
	list              func(ctx context.Context, r projections.Reader, tenant string, p projections.Page) ([]D, string, error)
	of                func(D) J
	version           func(D) uint64
	lastSeq           func(D) uint64
	ref               func(tenant, name string) events.Ref
}

var scopeKind = entryKind[catalog.Scope, projections.CatalogScope, scopeEntryJSON]{
	what:        "scope",
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
