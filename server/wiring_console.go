package server

import (
	"context"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/console"
	"github.com/gatehouse/gatehouse/idp"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/sealing"
)

// consoleRoutes builds the admin console (package console): it signs
// people in as the built-in console client of their tenant
// (oauth.ConsoleClientID) through the identity provider's code flow and
// calls the platform API on the router its pages are registered on.
func consoleRoutes(d deps, people *idp.IdP, reads *authz.Reads, oauthSrv *oauth.Server, store projections.Reader, verifyIDToken func(string) ([]byte, error)) (func(e *echo.Echo), error) {
	c, err := console.New(console.Config{People: people, AdminScopes: authz.TenantAdminScopes(), Reads: reads, Logger: d.Logger,
		Issuer: d.Config.Issuer, Sealer: d.Keys.Purpose(sealing.ConsoleSession), Checker: oauthSrv.Checker(), VerifyIDToken: verifyIDToken,
		TenantByName: func(ctx context.Context, name string) (string, error) {
			t, err := projections.TenantByName(ctx, store, name)
			return t.ID, err
		},
		User: func(ctx context.Context, tenant, id string) (projections.User, error) {
			return projections.GetUser(ctx, store, tenant, id)
		},
		Now: d.Now})
	if err != nil {
		return nil, err
	}
	return c.Register, nil
}
