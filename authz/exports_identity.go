package authz

import (
	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/projections"
)

// This file exports the helpers the platform resources of other packages
// (identity's users API) share with authz's own: ETag/If-Match, paging,
// and the tenant-admin scopes. Who the caller is and the actor of its
// events are package oauth's (PrincipalOf, ActorOf).

// ETag is the ETag of a resource at version v.
func ETag(v uint64) string { return etag(v) }

// IfMatch reads If-Match against the resource's current version: the
// version the caller expects (0: any), or 412.
func IfMatch(c echo.Context, current uint64) (uint64, error) { return ifMatch(c, current) }

// PageParams reads ?limit= and ?cursor= of a list.
func PageParams(c echo.Context) (projections.Page, error) { return pageParams(c) }

// TenantAdminScopes are the scopes of a tenant's admin app.
func TenantAdminScopes() []string { return tenantAdminScopes() }
