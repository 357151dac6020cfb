package authz

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// ResetSecret is the operator's way back into an app whose secret is lost,
// the bootstrap admin's above all (issue 12 point 9; `gatehouse admin
// reset-secret`, which needs the master key and the log). It rotates the
// secret of the app clientID with no grace period, through the same
// decision as POST /v1/platform/apps/{id}/secrets: app.secret.rotated,
// appended at the version read, by the system actor (the operator holds
// no token). It returns the new secret, for the caller to show once.
func (a *Apps) ResetSecret(ctx context.Context, clientID string) (string, error) {
	if err := a.CatchUp(ctx); err != nil {
		return "", err
	}
	found, err := projections.AppByClientID(ctx, a.Store, clientID)
	if errors.Is(err, projections.ErrNotFound) {
		return "", httpapi.NotFound("no app has client_id " + clientID)
	}
	if err != nil {
		return "", err
	}
	secret, secretID, now := oauth.NewClientSecret(), events.NewID("sec"), a.Now()
	hash := a.Hasher.HashString(secret)
	_, err = a.decide(ctx, func(ctx context.Context, r projections.Reader) (events.Append, string, error) {
		app, err := projections.GetApp(ctx, r, found.Tenant, found.ID)
		if err != nil {
			return events.Append{}, "", err
		}
		ref := appRef(app.Tenant, app.ID)
		evs, err := events.NewAll(events.System, now, events.Change{Ref: ref, Payload: &events.AppSecretRotated{SecretID: secretID, SecretHash: hash, PreviousExpiresAt: now.UTC()}})
		return events.Append{Events: evs, Expect: []events.Expect{{Ref: ref, Seq: app.LastSeq}}}, app.ID, err
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}
