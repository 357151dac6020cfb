package events_test

import (
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// Samples of a credential's refresh state on the high-volume stream
// (types_credentials_refresh.go), kept beside the others' in samples.
func init() {
	exp, at := g0.Add(time.Hour), g0.Add(55*time.Minute)
	until := g0.Add(30 * time.Second)
	set := func(v int, reason string) events.CredentialTokenSet {
		return events.CredentialTokenSet{Version: v, CreatedAt: g0, ExpiresAt: &exp, RefreshAt: &at, Scopes: []string{"drive.readonly"},
			Reason: reason, TokenType: "Bearer", HasRefreshToken: true, TokensSealed: "v1:c2VhbGVkLXRva2Vucw"}
	}
	state := events.CredentialRefreshState{Status: events.CredentialStatusActive, Current: 3, LastVersion: 3,
		Versions: []events.CredentialTokenSet{set(3, "refreshed")}, LastRefreshedAt: timep(g0), NextRefreshAt: &at,
		RefreshAttempts: 4, ConsecutiveFailures: 1, LastError: "temporarily_unavailable: try later", ClaimedBy: "inst_1",
		ClaimedUntil: &until, ExpiringAlerted: 2, ExpiringAlertAt: &at, Revision: 5, RetainSeconds: 7776000}
	for name, p := range map[string]events.Payload{
		"credential_refresh.claimed":     events.CredentialRefreshClaim{State: state, Forced: true},
		"credential_refresh.stored":      events.CredentialRefreshStored{State: state, Version: 3, Reason: "refreshed", RefreshTokenRotated: true},
		"credential_refresh.failed":      events.CredentialRefreshAttemptFailed{State: state, Error: "temporarily_unavailable"},
		"credential_refresh.rolled_back": events.CredentialRefreshRolledBack{State: state, Version: 2},
		"credential_refresh.snapshot":    events.CredentialRefreshSnapshot{State: state, Ended: true},
		"credential.refresh_moved":       events.CredentialRefreshMoved{},
	} {
		samples[name] = p
	}
}
