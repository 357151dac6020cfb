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
	return changeApp(tx, e, func(a *App) {
		for _, g := range p.Scopes {
			s := AppScope{Scope: g.Scope, Status: g.Status}
			if i := a.scopeIndex(g.Scope); i >= 0 {
				s.RevokedAt = a.Scopes[i].RevokedAt // old tokens stay without it
				a.Scopes[i] = s                     // a rejected or revoked scope asked for again
			} else {
				a.Scopes = append(a.Scopes, s)
			}
		}
	})
}

func applyScopeApprovalAdded(tx Tx, e events.Event, p *events.AppScopeApprovalAdded) error {
	return decideScope(tx, e, p.Subject(), func(s *AppScope) { s.approvedBy(e.Actor) })
}

func applyScopeApproved(tx Tx, e events.Event, p *events.AppScopeApproved) error {
	return decideScope(tx, e, p.Subject(), func(s *AppScope) {
		s.approvedBy(e.Actor)
		s.decided(events.GrantApproved, e, p.Reason)
	})
}

func applyScopeRejected(tx Tx, e events.Event, p *events.AppScopeRejected) error {
	return decideScope(tx, e, p.Subject(), func(s *AppScope) { s.decided(events.GrantRejected, e, p.Reason) })
}

func applyScopeRevoked(tx Tx, e events.Event, p *events.AppScopeRevoked) error {
	return decideScope(tx, e, p.Subject(), func(s *AppScope) {
		at := e.Time
		s.RevokedAt = &at
		s.decided(events.GrantRejected, e, p.Reason)
	}, func(a *App) {
		if sub := p.Subject(); sub.Kind == events.SubjectGrantType && sub.Name == "authorization_code" {
			at := e.Time
			a.CodeFlowKilledAt = &at
		}
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

// decideScope changes the app's grant of what sub names (a scope, a grant
// type, a redirect URI); a decision on one the app never asked for is a
// broken log.
func decideScope(tx Tx, e events.Event, sub events.Subject, f func(*AppScope), also ...func(*App)) error {
	a, err := loadApp(tx, e)
	if err != nil {
		return err
	}
	list := a.Approvals(sub.Kind)
	i := slices.IndexFunc(list, func(s AppScope) bool { return s.Scope == sub.Name })
	if i < 0 {
		return fmt.Errorf("projections: %s for %s %q, which app %s never requested", e.Type, sub.Kind, sub.Name, a.ID)
	}
	f(&list[i])
	for _, g := range also {
		g(&a)
	}
	return putApp(tx, e, a)
}

// Approvals is the app's list of grants of kind (events.SubjectScope,
// SubjectGrantType, SubjectRedirectURI); its entries may be changed in
// place.
func (a App) Approvals(kind string) []AppScope {
	switch kind {
	case events.SubjectGrantType:
		return a.Grants
	case events.SubjectRedirectURI:
		return a.RedirectURIApprovals
	default:
		return a.Scopes
	}
}

// GrantNeedsApproval reports whether an app's grant type takes effect only
// once approved for the tenant: authorization_code does (a person signs in
// through it); client_credentials does not, and refresh_token follows
// authorization_code (App.GrantEffective).
func GrantNeedsApproval(grantType string) bool { return grantType == "authorization_code" }

// GrantEffective reports whether the app may use grantType now: it is
// registered and, when it needs approval, approved; refresh_token only
// with authorization_code.
func (a App) GrantEffective(grantType string) bool {
	if !slices.Contains(a.GrantTypes, grantType) {
		return false
	}
	if grantType == "refresh_token" {
		return a.GrantEffective("authorization_code")
	}
	return !GrantNeedsApproval(grantType) || approvedIn(a.Grants, grantType)
}

// RedirectURIApproved reports whether uri is one of the app's redirect URIs
// and approved.
func (a App) RedirectURIApproved(uri string) bool { return approvedIn(a.RedirectURIApprovals, uri) }

// UserTokenLive reports whether a person's token of the app (one the
// authorization_code grant issued, or a refresh under it), issued at
// iat, may still be used: the grant did not stop being effective since
// iat (CodeFlowKilledAt: a kill switch, as for scopes; approved again,
// the old tokens stay dead). While it is not effective the code flow
// issues none.
func (a App) UserTokenLive(iat int64) bool {
	return !killedFor(a.CodeFlowKilledAt, iat)
}

func approvedIn(list []AppScope, name string) bool {
	return slices.ContainsFunc(list, func(s AppScope) bool { return s.Scope == name && s.Status == events.GrantApproved })
}

// syncApprovals makes Grants and RedirectURIApprovals follow GrantTypes
// and RedirectURIs: an entry kept keeps its status, a new one starts
// pending, a removed one goes (added again later, it is pending again).
// Apps registered before approvals existed get pending entries on replay:
// their code flow waits for an approval.
func (a *App) syncApprovals() {
	var grants []string
	for _, g := range a.GrantTypes {
		if GrantNeedsApproval(g) {
			grants = append(grants, g)
		}
	}
	a.Grants = syncList(a.Grants, grants)
	a.RedirectURIApprovals = syncList(a.RedirectURIApprovals, a.RedirectURIs)
}

func syncList(old []AppScope, names []string) []AppScope {
	if len(names) == 0 {
		return nil
	}
	out := make([]AppScope, 0, len(names))
	for _, n := range names {
		if i := slices.IndexFunc(old, func(s AppScope) bool { return s.Scope == n }); i >= 0 {
			out = append(out, old[i])
		} else if !slices.ContainsFunc(out, func(s AppScope) bool { return s.Scope == n }) {
			out = append(out, AppScope{Scope: n, Status: events.GrantPending})
		}
	}
	return out
}

func (a App) scopeIndex(scope string) int {
	return slices.IndexFunc(a.Scopes, func(s AppScope) bool { return s.Scope == scope })
}

func applySecretRotated(tx Tx, e events.Event, p *events.AppSecretRotated) error {
	return changeApp(tx, e, func(a *App) {
		a.Secrets = liveSecrets(a.Secrets, e.Time)
		end := p.PreviousExpiresAt
		for i := range a.Secrets {
			if s := &a.Secrets[i]; s.ExpiresAt == nil || end.Before(*s.ExpiresAt) {
				s.ExpiresAt = &end
			}
		}
		a.Secrets = append(a.Secrets, AppSecret{ID: p.SecretID, Hash: p.SecretHash, CreatedAt: e.Time, HeldBy: heldBy(e.Actor)})
	})
}

func applySecretRevoked(tx Tx, e events.Event, p *events.AppSecretRevoked) error {
	return changeApp(tx, e, func(a *App) {
		a.Secrets = slices.DeleteFunc(a.Secrets, func(s AppSecret) bool { return s.ID == p.SecretID })
	})
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
