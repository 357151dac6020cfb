package authz

import (
	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// This file exports the plumbing the platform resources of other
// packages (identity's users API) share with authz's own: who the caller
// is, the actor of its events, ETag/If-Match, paging, and the authority
// rule about handing out the tenant-admin scopes.

// PrincipalOf is the caller authenticated by Authenticator.Require.
func PrincipalOf(c echo.Context) Principal { return principal(c) }

// ActorOf is the actor of the events p causes.
func ActorOf(p Principal) events.Actor { return actorOf(p) }

// ETag is the ETag of a resource at version v.
func ETag(v uint64) string { return etag(v) }

// IfMatch reads If-Match against the resource's current version: the
// version the caller expects (0: any), or 412.
func IfMatch(c echo.Context, current uint64) (uint64, error) { return ifMatch(c, current) }

// PageParams reads ?limit= and ?cursor= of a list.
func PageParams(c echo.Context) (projections.Page, error) { return pageParams(c) }

// TenantAdminScopes are the scopes of a tenant's admin app.
func TenantAdminScopes() []string { return tenantAdminScopes() }

// MayHandOut decides whether p may hand out authority carrying scopes
// (403 naming what p lacks).
func MayHandOut(p Principal, scopes []string) error { return mayHandOut(p, scopes) }
