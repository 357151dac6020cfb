package graphql

import (
	_ "embed"
	"log/slog"
	"net/http"

	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/graphql/generated"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
)

// SDL is the schema's source, served to holders of graphql:introspect at
// GET /v1/graphql/schema.
//
//go:embed schema.graphql
var SDL string

// Server is the GraphQL transport: POST|GET /v1/graphql, the SDL, and the
// approved operations (/v1/platform/graphql/operations).
type Server struct {
	// Deps are the platform resources' (Idem makes POST
	// /v1/platform/graphql/operations idempotent).
	authz.Deps
	// Reads are the list reads the resolvers call without the bridge.
	Reads *authz.Reads
	// MaxDepth and MaxCost cap an operation (0: the defaults).
	MaxDepth, MaxCost int
	// Logger receives, at level error, what an answer hides behind
	// "internal error": a resolver's panic with its stack, an internal
	// error's cause; each line names the request id (X-Request-Id) and
	// the operation. Default slog.Default().
	Logger *slog.Logger

	exec *executor.Executor
}

// Register adds the routes to e, whose router also answers the inner
// REST requests of the resolvers.
func (s *Server) Register(e *echo.Echo, auth *oauth.Authenticator) {
	s.exec = newExecutor(generated.NewExecutableSchema(generated.Config{
		Resolvers: &resolver{router: e, reads: s.Reads}, Complexity: costs(),
	}), orDefault(s.MaxDepth, DefaultMaxDepth), orDefault(s.MaxCost, DefaultMaxCost), s.logger())
	// An Idempotency-Key on the POST makes the whole request idempotent
	// in the REST store: a repeat replays the first answer.
	e.POST("/v1/graphql", s.serve, httpapi.NoStore, auth.Require(""), s.Idem.Middleware)
	e.GET("/v1/graphql", s.serve, httpapi.NoStore, auth.Require(""))
	e.GET("/v1/graphql/schema", s.schema, auth.Require(ScopeIntrospect))
	admin := auth.Require(ScopeOperations)
	g := e.Group("/v1/platform/graphql/operations")
	g.POST("", authz.HandleBody(s.createOperation), admin, s.Idem.Middleware)
	g.GET("", s.listOperations, admin)
	g.GET("/:id", s.getOperation, admin)
	g.DELETE("/:id", s.deleteOperation, admin)
}

// logger is Logger, or slog.Default().
func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func (s *Server) schema(c echo.Context) error {
	return c.Blob(http.StatusOK, "text/plain; charset=utf-8", []byte(SDL))
}
