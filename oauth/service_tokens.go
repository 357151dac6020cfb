package oauth

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// MintServiceToken issues an access token to app on an admin's behalf
// (POST /v1/platform/apps/{id}/tokens): the same RFC 9068 JWT as the
// client_credentials grant gives, recorded as token.minted with the admin
// as actor, durable before it is returned. Its act claim (RFC 8693 §4.1)
// names the admin, so what the token does is recorded as the admin's too.
func (o *Server) MintServiceToken(ctx context.Context, app projections.App, scopes []string, ttl time.Duration, by Principal) (string, string, error) {
	return o.minter.mint(ctx, grant{Tenant: app.Tenant, AppID: app.ID, ClientID: app.ClientID, Subject: app.ClientID,
		GrantType: "service_token", Scopes: scopes, ExpiresAt: o.cfg.Now().Add(ttl).Truncate(time.Second), Act: ActClaimOf(by), Actor: ActorOf(by)})
}

// RevokeServiceToken revokes app's token jti (DELETE …/tokens/{jti}) and
// waits until the projections refuse it. The revocation is recorded for
// this app only (projections.IsRevoked), so naming another app's jti
// revokes nothing of it; not knowing the token's expiry, its entry lasts
// as long as the longest token can.
func (o *Server) RevokeServiceToken(ctx context.Context, app projections.App, jti string, actor events.Actor) error {
	return o.revokeToken(ctx, revocation{Tenant: app.Tenant, AppID: app.ID, JTI: jti,
		ExpiresAt: o.cfg.Now().Add(MaxTokenTTL * time.Second), Actor: actor})
}
