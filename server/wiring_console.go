package server

import (
	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/console"
	"github.com/gatehouse/gatehouse/idp"
)

// consoleRoutes builds the admin console (package console) on the
// identity provider's sessions; its pages call the platform API on the
// router they are registered on.
func consoleRoutes(d deps, people *idp.IdP, reads *authz.Reads) (func(e *echo.Echo), error) {
	c, err := console.New(console.Config{People: people, AdminScopes: authz.TenantAdminScopes(), Reads: reads, Logger: d.Logger})
	if err != nil {
		return nil, err
	}
	return c.Register, nil
}
