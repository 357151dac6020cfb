package vault

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// The expiring alert of a token set no refresh replaces. A refreshed
// credential's credential.expiring comes from its failing refreshes
// (refresher.go, failure); an implicit credential, or one whose provider
// issued no refresh token, is never refreshed: its token set expires and
// the credential asks for reauthorization. Its refresh state then holds
// a schedule of its own, ExpiringAlertAt (the set's expiry less the
// refresh lead, as a refresh would be), beside an empty NextRefreshAt
// (its health shows no next refresh), and the refresher, when it is due,
// appends the alert once:
//
//  1. credential.expiring with the set's version on the control stream
//     (where the dispatcher delivers alerts), expecting the credential's
//     last control event and re-decided on conflict: the control
//     document records the version alerted (ExpiringAlerted), so of two
//     instances due at once, or an instance taking over after a crash
//     between the two appends, one appends it and the others find it
//     recorded;
//  2. the refresh state without the alert time (a snapshot), so the
//     schedule moves on; a restart replays both and schedules nothing.
//
// A set that has expired meanwhile (the server was down through the
// lead) gets no alert: its status shows expired.

// expiringAlertAt is when credential.expiring is due for token set v of
// c once current: nil when a refresh replaces it (RefreshAt), when it
// does not expire, or when it was alerted already.
func expiringAlertAt(c projections.Credential, v projections.CredentialVersion) *time.Time {
	if v.RefreshAt != nil || v.ExpiresAt == nil || c.ExpiringAlerted == v.Version {
		return nil
	}
	at := v.ExpiresAt.Add(-c.RefreshLead(v)).UTC()
	return &at
}

// alertExpiring appends credential id's due expiring alert (1), then its
// refresh state without the alert time (2).
func (v *Vault) alertExpiring(ctx context.Context, wait func(context.Context, events.Stream, uint64) error, tenant, id string, now time.Time) error {
	_, _, err := v.run(ctx, wait, 0, tenant, id, func(ctx context.Context) (events.Append, error) {
		c, err := projections.GetCredential(ctx, v.Store, tenant, id)
		if err != nil {
			return events.Append{}, err
		}
		cur, ok := c.CurrentVersion()
		if !ok || cur.ExpiresAt == nil || !now.Before(*cur.ExpiresAt) || c.ExpiringAlerted == cur.Version || c.Status != events.CredentialStatusActive {
			return events.Append{}, nil // alerted, expired, superseded, or not active: nothing to say
		}
		ref := credentialRef(tenant, id)
		evs, err := events.NewAll(events.System, now, events.Change{Ref: ref, Payload: &events.CredentialExpiring{ExpiresAt: *cur.ExpiresAt, Version: cur.Version}})
		return events.Append{Events: evs, Expect: []events.Expect{{Ref: ref, Seq: c.LastSeq}}}, err
	})
	if err != nil {
		return err
	}
	_, _, err = v.run(ctx, wait, 0, tenant, id, func(ctx context.Context) (events.Append, error) {
		c, err := projections.GetCredential(ctx, v.Store, tenant, id)
		if err != nil || c.ExpiringAlertAt == nil {
			return events.Append{}, err
		}
		s := v.stateOf(c, c.Versions)
		s.ExpiringAlertAt = nil
		return refreshAppend(c, events.System, now, &events.CredentialRefreshSnapshot{State: s})
	})
	return err
}
