package oauth

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// MintUserToken issues, through the one mint path, an access token to the
// signed-in user userID through app (API.md "OAuth 2.0 / OpenID
// Connect": sub is the user id, client_id the app's, so sub != client_id
// tells a user token from the app's own). grantType is what token.minted
// records (authorization_code, refresh_token). The caller has decided
// that the user may have these scopes (approved for app,
// catalog.UserMayHold); TokenChecker.Check decides it again at every use.
// token.minted names the user, through the app.
func (o *Server) MintUserToken(ctx context.Context, app projections.App, userID, grantType string, scopes []string, ttl time.Duration) (token, jti string, err error) {
	return o.minter.mint(ctx, grant{Tenant: app.Tenant, AppID: app.ID, ClientID: app.ClientID, Subject: userID,
		GrantType: grantType, Scopes: scopes, ExpiresAt: o.cfg.Now().Add(ttl).Truncate(time.Second),
		Actor: events.Actor{Kind: events.ActorUser, ID: userID, App: app.ID}})
}
