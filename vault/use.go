package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// This file is what the use of credentials (package proxy: the proxy and
// token exchange) asks of the vault: the current access token of a
// credential as read, and a refresh of one version, once across
// instances.

// ErrNoToken: the credential has no usable token set (never authorized,
// revoked, failed).
var ErrNoToken = errors.New("vault: the credential has no usable access token")

// errNotStale: the version a refresh was asked for is no longer current.
var errNotStale = errors.New("vault: the version is no longer current")

// AccessToken opens c's current access token: the token, its version
// and when it expires (nil: unknown). A revoked or failed credential, or
// one without a token set, is ErrNoToken.
func (v *Vault) AccessToken(c projections.Credential) (string, int, *time.Time, error) {
	if c.Status == events.CredentialStatusRevoked || c.Status == events.CredentialStatusFailed {
		return "", 0, nil, fmt.Errorf("%w (status %s)", ErrNoToken, c.Status)
	}
	ver, ok := c.CurrentVersion()
	if !ok {
		return "", 0, nil, ErrNoToken
	}
	ts, err := v.openTokens(c, ver)
	if err != nil {
		return "", 0, nil, err
	}
	if ts.AccessToken == "" {
		return "", 0, nil, ErrNoToken
	}
	return ts.AccessToken, ver.Version, ver.ExpiresAt, nil
}

// staleWait bounds how long RefreshVersion waits for another instance's
// refresh (its claim lapses after claimLease).
const staleWait = claimLease + 5*time.Second

// RefreshVersion replaces version stale of credential id when it is
// still current: one refresh per version across instances. The instance
// that wins the claim in the log asks the provider; the others (and this
// one, when the refresher or another instance holds the claim) wait until
// the credential's current version is no longer stale, at most staleWait.
// It returns the credential as it is then, with a newer version, or an
// error (the provider's refusal as *UpstreamError, recorded).
func (v *Vault) RefreshVersion(ctx context.Context, tenant, id string, stale int) (projections.Credential, error) {
	c, err := v.refresh(ctx, tenant, id, true, stale)
	switch {
	case err == nil:
		return c, nil
	case !errors.Is(err, errInFlight) && !errors.Is(err, errNotStale) && !errors.Is(err, errNotDue):
		return c, err
	}
	// Someone else refreshes it (or did): wait for a newer version.
	deadline := time.Now().Add(staleWait)
	for {
		c, err := projections.GetCredential(ctx, v.Store, tenant, id)
		if err != nil {
			return c, err
		}
		if c.Current != stale && c.Current != 0 {
			return c, nil
		}
		if c.ClaimedBy == "" || !v.Now().Before(c.ClaimedUntil) {
			// The claim ended without a new version (the refresh failed
			// or lapsed): try once more ourselves.
			c, err := v.refresh(ctx, tenant, id, true, stale)
			if err == nil || (!errors.Is(err, errInFlight) && !errors.Is(err, errNotStale)) {
				return c, err
			}
		}
		if time.Now().After(deadline) {
			return c, fmt.Errorf("vault: credential %s: waited %s for another refresh", id, staleWait)
		}
		// The projection moves when the other instance appends: follow
		// the log (CatchUp waits for the control stream's last sequence).
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return c, ctx.Err()
		case <-t.C:
		}
		if v.CatchUp != nil {
			if err := v.CatchUp(ctx); err != nil {
				return c, err
			}
		}
	}
}
