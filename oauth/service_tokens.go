package oauth

import (
	"context"
	"strings"
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
	now := o.cfg.Now()
	exp := now.Add(ttl)
	claims := AccessClaims{
		Issuer: o.cfg.Issuer, Subject: app.ClientID, Audience: []string{o.cfg.Issuer}, ClientID: app.ClientID,
		Scope: strings.Join(scopes, " "), JTI: newJTI(), IssuedAt: now.Unix(), ExpiresAt: exp.Unix(), Tenant: app.Tenant,
		Act: ActClaimOf(by),
	}
	tok, err := o.cfg.Signer.Sign(claims, "at+jwt")
	if err != nil {
		return "", "", err
	}
	ev, err := events.New(events.Ref{Tenant: app.Tenant, Type: events.AggToken, ID: app.ID}, ActorOf(by), now,
		&events.TokenMinted{JTI: claims.JTI, AppID: app.ID, ClientID: app.ClientID, Subject: app.ClientID,
			GrantType: "service_token", Scopes: scopes, ExpiresAt: time.Unix(claims.ExpiresAt, 0).UTC()})
	if err != nil {
		return "", "", err
	}
	if _, err := o.mints.Append(ctx, ev); err != nil {
		return "", "", err
	}
	return tok, claims.JTI, nil
}

// RevokeServiceToken revokes app's token jti (DELETE …/tokens/{jti}) and
// waits until the projections refuse it. The revocation is recorded for
// this app only (projections.IsRevoked), so naming another app's jti
// revokes nothing of it; its entry lasts as long as the longest token can.
func (o *Server) RevokeServiceToken(ctx context.Context, app projections.App, jti string, actor events.Actor) error {
	now := o.cfg.Now()
	ev, err := events.New(events.Ref{Tenant: app.Tenant, Type: events.AggToken, ID: app.ID}, actor, now,
		&events.TokenRevoked{JTI: jti, AppID: app.ID, ExpiresAt: now.Add(MaxTokenTTL * time.Second).UTC(),
			GraceSeconds: o.cfg.revocationGraceSeconds()})
	if err != nil {
		return err
	}
	res, err := o.cfg.Log.Append(ctx, events.Append{Events: []events.Event{ev}, DedupeID: "revoke-" + app.ID + "-" + jti})
	if err != nil {
		return err
	}
	return o.cfg.WaitFor(ctx, res.Stream, res.Last())
}
