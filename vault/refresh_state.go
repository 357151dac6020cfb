package vault

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// Where a credential's refresh state lives (docs/architecture.md
// "Upstream credentials (vault)"): the aggregate credrefresh on the
// high-volume stream, every event the whole state
// (events.CredentialRefreshState), merged with the credential's control
// document when read (projections.GetCredential). This file writes it:
// the refresher's claims, token sets and failures, the callback's token
// sets, rollbacks, and the snapshots that keep it past the stream's max
// age.

// DefaultRetain is the high-volume stream's max age when Vault.Retain
// is not set (events.JetStreamConfig's default).
const DefaultRetain = 90 * 24 * time.Hour

func refreshRef(tenant, id string) events.Ref {
	return events.Ref{Tenant: tenant, Type: events.AggCredentialRefresh, ID: id}
}

func (v *Vault) retain() time.Duration {
	if v.Retain > 0 {
		return v.Retain
	}
	return DefaultRetain
}

// stateOf is c's refresh state as it stands (its token sets: those of
// versions, the ones carried), to be changed and appended.
func (v *Vault) stateOf(c projections.Credential, versions []projections.CredentialVersion) events.CredentialRefreshState {
	s := events.CredentialRefreshState{Status: c.Status, Current: c.Current, LastVersion: c.LastVersion,
		Versions: carried(versions, c.Current), LastRefreshedAt: c.LastRefreshedAt, NextRefreshAt: c.NextRefreshAt,
		RefreshAttempts: c.RefreshAttempts, ConsecutiveFailures: c.ConsecutiveFailures, LastError: c.LastError,
		ClaimedBy: c.ClaimedBy, ExpiringAlerted: c.ExpiringAlerted, ExpiringAlertAt: c.ExpiringAlertAt, Revision: c.RefreshRevision,
		RetainSeconds: int64(v.retain() / time.Second)}
	if c.ClaimedBy != "" {
		until := c.ClaimedUntil
		s.ClaimedUntil = &until
	}
	return s
}

// carried are the token sets a state carries: the current one and the
// newest holding a refresh token (refreshVersion), oldest first.
func carried(versions []projections.CredentialVersion, current int) []events.CredentialTokenSet {
	out := []events.CredentialTokenSet{}
	refresh := 0
	for _, x := range versions {
		if x.HasRefreshToken {
			refresh = max(refresh, x.Version)
		}
	}
	seen := map[int]bool{}
	for _, x := range versions {
		if (x.Version == current || x.Version == refresh) && !seen[x.Version] {
			seen[x.Version] = true
			out = append(out, x)
		}
	}
	return out
}

// refreshAppend is the append of payload to c's refresh aggregate,
// expecting its last event (none yet: RefreshSeq 0).
func refreshAppend(c projections.Credential, actor events.Actor, now time.Time, payload events.Payload) (events.Append, error) {
	ref := refreshRef(c.Tenant, c.ID)
	evs, err := events.NewAll(actor, now, events.Change{Ref: ref, Payload: payload})
	return events.Append{Events: evs, Expect: []events.Expect{{Ref: ref, Seq: c.RefreshSeq}}}, err
}

// storedState is c's state once token set p (a new version) is stored.
func (v *Vault) storedState(c projections.Credential, p *events.CredentialTokensStored, now time.Time) events.CredentialRefreshState {
	nv := projections.CredentialVersion{Version: p.Version, CreatedAt: now, ExpiresAt: p.ExpiresAt, RefreshAt: p.RefreshAt, Scopes: p.Scopes,
		Reason: p.Reason, TokenType: p.TokenType, HasRefreshToken: p.HasRefreshToken, TokensSealed: p.TokensSealed}
	c.Current = p.Version // carried: the new version, current
	s := v.stateOf(c, append(slices.Clone(c.Versions), nv))
	at := now
	s.Status, s.Current, s.LastVersion = events.CredentialStatusActive, p.Version, max(c.LastVersion, p.Version)
	s.LastRefreshedAt, s.NextRefreshAt = &at, p.RefreshAt
	s.ConsecutiveFailures, s.LastError = 0, ""
	s.ClaimedBy, s.ClaimedUntil = "", nil
	s.ExpiringAlertAt = expiringAlertAt(c, nv)
	s.Revision++
	return s
}

// storedEvent is token set p appended to c's refresh aggregate.
func (v *Vault) storedEvent(c projections.Credential, p *events.CredentialTokensStored, now time.Time) (events.Append, error) {
	return refreshAppend(c, events.System, now, &events.CredentialRefreshStored{State: v.storedState(c, p, now), Version: p.Version,
		Reason: p.Reason, RefreshTokenRotated: p.RefreshTokenRotated})
}

// rolledBackState is c's state once version v, kept and still valid, is
// current again: its token set carried with the state, the refresh made
// from the newest refresh token still (rollback.go).
func (v *Vault) rolledBackState(c projections.Credential, to projections.CredentialVersion) events.CredentialRefreshState {
	c.Current = to.Version
	s := v.stateOf(c, append(slices.Clone(c.Versions), to))
	slices.SortFunc(s.Versions, func(a, b events.CredentialTokenSet) int { return a.Version - b.Version })
	s.NextRefreshAt, s.ExpiringAlertAt = to.RefreshAt, expiringAlertAt(c, to)
	s.Status, s.ConsecutiveFailures, s.LastError = events.CredentialStatusActive, 0, ""
	s.Revision++
	return s
}

// moveOnce appends credential.refresh_moved to credential id's control
// stream once its refresh state is on the high-volume stream, so its
// control document stops scheduling (one event per credential, ever).
// A credential deleted meanwhile needs nothing.
func (v *Vault) moveOnce(ctx context.Context, wait func(context.Context, events.Stream, uint64) error, tenant, id string) error {
	_, err := command.Run(ctx, command.Deps{Log: v.Log, WaitFor: wait}, func(ctx context.Context, _ int) (command.Decision, error) {
		c, err := projections.GetCredential(ctx, v.Store, tenant, id)
		if errors.Is(err, projections.ErrNotFound) {
			return command.Decision{}, errMoved
		}
		if err != nil {
			return command.Decision{}, err
		}
		if c.RefreshMoved || c.RefreshSeq == 0 {
			return command.Decision{}, errMoved
		}
		ref := credentialRef(tenant, id)
		evs, err := events.NewAll(events.System, v.Now(), events.Change{Ref: ref, Payload: &events.CredentialRefreshMoved{}})
		return command.Decision{Append: events.Append{Events: evs, Expect: []events.Expect{{Ref: ref, Seq: c.LastSeq}}}}, err
	})
	if errors.Is(err, errMoved) {
		return nil
	}
	return err
}

var errMoved = errors.New("vault: nothing to move")

// errUpkept: the refresher's due entry was a snapshot or an end, now
// appended, not a refresh.
var errUpkept = errors.New("vault: refresh state kept")

// upkeep does what a due entry asks other than a refresh: the end of a
// deleted credential's refresh state (credential_refresh.snapshot,
// Ended: its schedule stops, the log forgets it), the move of a
// credential's control schedule, and the snapshot of a state whose last
// event is half way through the stream's max age (it carries every kept
// version still valid, so rollback targets survive with it). It returns
// errUpkept when it appended a snapshot, nil when the entry is a refresh's.
func (v *Vault) upkeep(ctx context.Context, tenant, id string) error {
	wait := v.workerWait()
	now := v.Now()
	c, err := projections.GetCredential(ctx, v.Store, tenant, id)
	if errors.Is(err, projections.ErrNotFound) {
		rs, err := projections.GetCredentialRefresh(ctx, v.Store, tenant, id)
		if errors.Is(err, projections.ErrNotFound) || (err == nil && rs.Ended) {
			return errUpkept
		}
		if err != nil {
			return err
		}
		_, err = command.Run(ctx, command.Deps{Log: v.Log, WaitFor: wait, Attempts: 1}, func(ctx context.Context, _ int) (command.Decision, error) {
			s := rs.State
			s.NextRefreshAt, s.ClaimedBy, s.ClaimedUntil, s.Versions = nil, "", nil, nil
			ap, err := refreshAppend(projections.Credential{ID: id, Tenant: tenant, RefreshSeq: rs.LastSeq}, events.System, now,
				&events.CredentialRefreshSnapshot{State: s, Ended: true})
			return command.Decision{Append: ap}, err
		})
		if err != nil {
			return err
		}
		return errUpkept
	}
	if err != nil {
		return err
	}
	if c.RefreshSeq == 0 {
		return nil
	}
	if !c.RefreshMoved {
		if err := v.moveOnce(ctx, wait, tenant, id); err != nil {
			return err
		}
	}
	if c.ExpiringAlertAt != nil && !now.Before(*c.ExpiringAlertAt) {
		if err := v.alertExpiring(ctx, wait, tenant, id, now); err != nil {
			return err
		}
		return errUpkept
	}
	snapAt := c.RefreshAt.Add(time.Duration(c.RetainSeconds) * time.Second / 2)
	if c.RetainSeconds <= 0 || now.Before(snapAt) {
		return nil
	}
	if c.ClaimedBy != "" && now.Before(c.ClaimedUntil) {
		return nil // a refresh in flight writes a newer event
	}
	if c.NextRefreshAt != nil && !c.NextRefreshAt.After(now) && c.Status == events.CredentialStatusActive {
		return nil // due for a refresh, which writes a newer event
	}
	kept, err := projections.CredentialVersions(ctx, v.Store, c)
	if err != nil {
		return err
	}
	_, err = command.Run(ctx, command.Deps{Log: v.Log, WaitFor: wait, Attempts: 1}, func(ctx context.Context, _ int) (command.Decision, error) {
		s := v.stateOf(c, c.Versions)
		s.ClaimedBy, s.ClaimedUntil = "", nil
		have := map[int]bool{}
		for _, x := range s.Versions {
			have[x.Version] = true
		}
		for _, x := range kept {
			if !have[x.Version] && (x.ExpiresAt == nil || now.Before(*x.ExpiresAt)) {
				s.Versions = append(s.Versions, x)
			}
		}
		slices.SortFunc(s.Versions, func(a, b events.CredentialTokenSet) int { return a.Version - b.Version })
		ap, err := refreshAppend(c, events.System, now, &events.CredentialRefreshSnapshot{State: s})
		return command.Decision{Append: ap}, err
	})
	if err != nil {
		return err
	}
	return errUpkept
}
