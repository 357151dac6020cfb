package projections

import (
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// Reducers of the app's scope requests and decisions and of its secrets
// (API.md "Apps": scope-requests, scope-decisions, secrets). Every check a
// command makes is made again nowhere here: the log is the truth, and a
// decision the command accepted is applied as it reads.

var (
	_ = on(applyScopeRequested)
	_ = on(applyScopeApprovalAdded)
	_ = on(applyScopeApproved)
	_ = on(applyScopeRejected)
	_ = on(applyScopeRevoked)
	_ = on(applySecretRotated)
	_ = on(applySecretRevoked)
)

func applyScopeRequested(tx Tx, e events.Event, p *events.AppScopeRequested) error {
	a, err := loadApp(tx, e)
	if err != nil {
		return err
	}
	for _, g := range p.Scopes {
		s := AppScope{Scope: g.Scope, Status: g.Status}
		if i := a.scopeIndex(g.Scope); i >= 0 {
			s.RevokedAt = a.Scopes[i].RevokedAt // old tokens stay without it
			a.Scopes[i] = s                     // a rejected or revoked scope asked for again
		} else {
			a.Scopes = append(a.Scopes, s)
		}
	}
	return putApp(tx, e, a)
}

func applyScopeApprovalAdded(tx Tx, e events.Event, p *events.AppScopeApprovalAdded) error {
	return decideScope(tx, e, p.Scope, func(s *AppScope) { s.approvedBy(e.Actor) })
}

func applyScopeApproved(tx Tx, e events.Event, p *events.AppScopeApproved) error {
	return decideScope(tx, e, p.Scope, func(s *AppScope) {
		s.approvedBy(e.Actor)
		s.decided(events.GrantApproved, e, p.Reason)
	})
}

func applyScopeRejected(tx Tx, e events.Event, p *events.AppScopeRejected) error {
	return decideScope(tx, e, p.Scope, func(s *AppScope) { s.decided(events.GrantRejected, e, p.Reason) })
}

func applyScopeRevoked(tx Tx, e events.Event, p *events.AppScopeRevoked) error {
	return decideScope(tx, e, p.Scope, func(s *AppScope) {
		at := e.Time
		s.RevokedAt = &at
		s.decided(events.GrantRejected, e, p.Reason)
	})
}

// approvedBy records an approval by the root of actor's chain, once.
func (s *AppScope) approvedBy(actor events.Actor) {
	if id := actor.Root(); !slices.Contains(s.Approvals, id) {
		s.Approvals = append(s.Approvals, id)
	}
}

func (s *AppScope) decided(status events.GrantStatus, e events.Event, reason string) {
	at := e.Time
	s.Status, s.DecidedBy, s.DecidedAt, s.Reason = status, e.Actor.ID, &at, reason
}

// decideScope changes the app's grant of scope; a decision on a scope the
// app never asked for is a broken log.
func decideScope(tx Tx, e events.Event, scope string, f func(*AppScope)) error {
	a, err := loadApp(tx, e)
	if err != nil {
		return err
	}
	i := a.scopeIndex(scope)
	if i < 0 {
		return fmt.Errorf("projections: %s for scope %q, which app %s never requested", e.Type, scope, a.ID)
	}
	f(&a.Scopes[i])
	return putApp(tx, e, a)
}

func (a App) scopeIndex(scope string) int {
	return slices.IndexFunc(a.Scopes, func(s AppScope) bool { return s.Scope == scope })
}

func applySecretRotated(tx Tx, e events.Event, p *events.AppSecretRotated) error {
	a, err := loadApp(tx, e)
	if err != nil {
		return err
	}
	a.Secrets = liveSecrets(a.Secrets, e.Time)
	end := p.PreviousExpiresAt
	for i := range a.Secrets {
		if s := &a.Secrets[i]; s.ExpiresAt == nil || end.Before(*s.ExpiresAt) {
			s.ExpiresAt = &end
		}
	}
	a.Secrets = append(a.Secrets, AppSecret{ID: p.SecretID, Hash: p.SecretHash, CreatedAt: e.Time, HeldBy: heldBy(e.Actor)})
	return putApp(tx, e, a)
}

func applySecretRevoked(tx Tx, e events.Event, p *events.AppSecretRevoked) error {
	a, err := loadApp(tx, e)
	if err != nil {
		return err
	}
	a.Secrets = slices.DeleteFunc(a.Secrets, func(s AppSecret) bool { return s.ID == p.SecretID })
	return putApp(tx, e, a)
}

// liveSecrets drops the secrets whose grace period ended by now: the view
// keeps only secrets that can still authenticate.
func liveSecrets(secrets []AppSecret, now time.Time) []AppSecret {
	return slices.DeleteFunc(secrets, func(s AppSecret) bool { return s.ExpiresAt != nil && !now.Before(*s.ExpiresAt) })
}

// LiveSecrets returns the app's secrets that still authenticate at now,
// oldest first.
func (a App) LiveSecrets(now time.Time) []AppSecret {
	return liveSecrets(slices.Clone(a.Secrets), now)
}
