package events

import "time"

// This file holds the payloads of a vault credential's refresh state
// (package vault, docs/architecture.md "Upstream credentials (vault)").
//
// Refreshes are the vault's only unbounded stream of events (100,000
// credentials refreshed hourly are 2.4 million a day), so they live on
// the high-volume stream, kept by age, as the aggregate
// AggCredentialRefresh (id: the credential's id), not on the control
// stream, kept forever. Each event carries the whole refresh state
// (CredentialRefreshState): the projection of the aggregate is its last
// event, and a credential whose last refresh event nears the stream's
// max age gets a credential_refresh.snapshot, so the state outlives the
// events that made it. The credential itself (what a PATCH changes) and
// what must be kept forever or delivered as an alert stay on the control
// stream: credential.created with the first token set,
// credential.refresh_failed, credential.revoked, credential.expiring
// (the alerts), and credential.refresh_moved, written once per
// credential when its refresh state first moves here.
//
// A credential's older events on the control stream
// (credential.refresh_claimed, credential.tokens_stored,
// credential.rolled_back) keep applying: they are its state until its
// first refresh event.

// AggCredentialRefresh is the aggregate of a credential's refresh state,
// on the high-volume stream.
const AggCredentialRefresh = "credrefresh"

// CredentialRefreshState is a credential's whole refresh state as of an
// event of AggCredentialRefresh.
type CredentialRefreshState struct {
	// Status is the recorded status (active, revoked, failed;
	// pending_authorization while no token set was stored).
	Status CredentialStatus `json:"status"`
	// Current is the version in use; LastVersion the highest ever stored.
	Current     int `json:"current"`
	LastVersion int `json:"last_version"`
	// Versions are the token sets the state carries, oldest first: the
	// current one and, when another, the newest holding a refresh token
	// (the one a refresh starts from). A snapshot also carries every other
	// kept version still valid, so a rollback target outlives its event.
	Versions        []CredentialTokenSet `json:"versions"`
	LastRefreshedAt *time.Time           `json:"last_refreshed_at,omitempty"`
	// NextRefreshAt is when the next refresh or retry is due (nil: none).
	NextRefreshAt       *time.Time `json:"next_refresh_at,omitempty"`
	RefreshAttempts     int        `json:"refresh_attempts"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastError           string     `json:"last_error,omitempty"`
	// ClaimedBy holds the refresh until ClaimedUntil (empty: no claim).
	ClaimedBy    string     `json:"claimed_by,omitempty"`
	ClaimedUntil *time.Time `json:"claimed_until,omitempty"`
	// ExpiringAlerted is the version credential.expiring was last sent for.
	ExpiringAlerted int `json:"expiring_alerted,omitempty"`
	// ExpiringAlertAt is when credential.expiring is due for the current
	// token set when no refresh will replace it (implicit, or a set without
	// refresh token): its expiry less the refresh lead. Nil: none due
	// (NextRefreshAt stays nil for such a set: nothing is refreshed).
	ExpiringAlertAt *time.Time `json:"expiring_alert_at,omitempty"`
	// Revision counts the changes a user sees (token sets, failures,
	// rollbacks; not claims nor snapshots): added to the credential's
	// version (its ETag).
	Revision uint64 `json:"revision"`
	// RetainSeconds is the high-volume stream's max age when the event
	// was written: the projection forgets the state (and the versions it
	// stored) once the log's clock passes the event's time plus it, as
	// the log forgets the event.
	RetainSeconds int64 `json:"retain_seconds"`
}

// CredentialTokenSet is one stored token set of a credential (a version).
type CredentialTokenSet struct {
	Version         int        `json:"version"`
	CreatedAt       time.Time  `json:"created_at"`
	ExpiresAt       *time.Time `json:"expires_at,omitempty"`
	RefreshAt       *time.Time `json:"refresh_at,omitempty"`
	Scopes          []string   `json:"scopes"`
	Reason          string     `json:"reason"`
	TokenType       string     `json:"token_type"`
	HasRefreshToken bool       `json:"has_refresh_token"`
	// TokensSealed is the token set sealed for "<credential id>/v<version>".
	TokensSealed string `json:"tokens_sealed"`
}

// CredentialRefreshClaimed (credential_refresh.claimed): State.ClaimedBy
// refreshes the credential until State.ClaimedUntil. Appended expecting
// the aggregate's last event, so one instance at a time talks to the
// provider.
type CredentialRefreshClaim struct {
	State  CredentialRefreshState `json:"state"`
	Forced bool                   `json:"forced,omitempty"`
}

// CredentialRefreshStored (credential_refresh.stored): the provider
// issued token set Version (in State.Versions), current from now on.
// Reason: "refreshed", "forced" or "authorized".
type CredentialRefreshStored struct {
	State   CredentialRefreshState `json:"state"`
	Version int                    `json:"version"`
	Reason  string                 `json:"reason"`
	// RefreshTokenRotated: the provider issued a new refresh token, which
	// replaced the previous one.
	RefreshTokenRotated bool `json:"refresh_token_rotated,omitempty"`
}

// CredentialRefreshAttemptFailed (credential_refresh.failed): a refresh
// failed; State holds the retry, or the failed/revoked status. Its alert
// is on the control stream (credential.refresh_failed or
// credential.revoked).
type CredentialRefreshAttemptFailed struct {
	State CredentialRefreshState `json:"state"`
	Error string                 `json:"error"`
}

// CredentialRefreshRolledBack (credential_refresh.rolled_back): Version,
// an older still valid token set, is current.
type CredentialRefreshRolledBack struct {
	State   CredentialRefreshState `json:"state"`
	Version int                    `json:"version"`
}

// CredentialRefreshSnapshot (credential_refresh.snapshot): the state
// re-appended before its last event ages out of the stream, or to end
// the schedule of a credential that was deleted (Ended).
type CredentialRefreshSnapshot struct {
	State CredentialRefreshState `json:"state"`
	Ended bool                   `json:"ended,omitempty"`
}

// CredentialRefreshMoved (credential.refresh_moved, control stream): the
// credential's refresh state is on AggCredentialRefresh from now on; its
// control document stops scheduling refreshes and ignores the refresh
// fields of later control events.
type CredentialRefreshMoved struct{}

// RefreshStateOf returns the state a credential_refresh event carries
// (false: p is not one).
func RefreshStateOf(p Payload) (CredentialRefreshState, bool) {
	switch p := p.(type) {
	case *CredentialRefreshClaim:
		return p.State, true
	case *CredentialRefreshStored:
		return p.State, true
	case *CredentialRefreshAttemptFailed:
		return p.State, true
	case *CredentialRefreshRolledBack:
		return p.State, true
	case *CredentialRefreshSnapshot:
		return p.State, true
	}
	return CredentialRefreshState{}, false
}
