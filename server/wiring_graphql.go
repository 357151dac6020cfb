package server

import (
	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/graphql"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// graphqlRoutes is the GraphQL transport (issue 17): its resolvers answer
// through the routes of e itself, so it is registered on the same router
// as the REST API, with the same authenticator.
func graphqlRoutes(d deps, store projections.Store, reqs projections.Waits, idem *authz.Idempotency, auth *oauth.Authenticator, reads *authz.Reads) func(e *echo.Echo) {
	gql := &graphql.Server{Log: d.Log, Store: store, WaitFor: reqs.WaitFor, CatchUp: reqs.CatchUp, Now: d.Now, Idem: idem, Reads: reads,
		MaxDepth: d.Config.GraphQLMaxDepth, MaxCost: d.Config.GraphQLMaxCost}
	return func(e *echo.Echo) { gql.Register(e, auth) }
}
