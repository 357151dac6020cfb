package server

import (
	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/graphql"
	"github.com/gatehouse/gatehouse/oauth"
)

// graphqlRoutes is the GraphQL transport (issue 17): its resolvers answer
// through the routes of e itself, so it is registered on the same router
// as the REST API, with the same authenticator.
func graphqlRoutes(d deps, base authz.Deps, auth *oauth.Authenticator, reads *authz.Reads) func(e *echo.Echo) {
	gql := &graphql.Server{Deps: base, Reads: reads, MaxDepth: d.Config.GraphQLMaxDepth, MaxCost: d.Config.GraphQLMaxCost,
		Logger: d.Logger}
	return func(e *echo.Echo) { gql.Register(e, auth) }
}
