package authz

import (
	"context"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

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
	if req.Scope == "" {
		fe.add("scope", "is required")
	} else if _, ok, err := c.Entries.LookupScope(reqCtx, p.Tenant, req.Scope); err != nil {
		return err
	} else if !ok {
		fe.add("scope", "unknown scope %q: it is not in the tenant's catalog", req.Scope)
	} else if catalog.Reserved(req.Scope) {
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
