package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/command"
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

// Refreshable reports whether c has something to refresh its token set
// with: a refresh token, or a grant fetched again (client_credentials,
// password). A provider that issues neither (a GitHub OAuth App's token,
// an implicit grant's) is not asked: its token needs reauthorization.
func Refreshable(c projections.Credential) bool {
	return c.GrantType == GrantClientCredentials || c.GrantType == GrantPassword || hasRefreshToken(c)
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
	deadline := time.Now().Add(staleWait)
	for tries := 0; ; tries++ {
		c, err := v.refresh(ctx, tenant, id, true, stale)
		if !waiting(err) {
			return c, err // refreshed here, or the provider's refusal (recorded)
		}
		// Another refresh holds the claim, won the race to it, or already
		// replaced the version: follow the log until the current version
		// is newer, or the claim ended without one (then claim again).
		for {
			if v.CatchUp != nil {
				if err := v.CatchUp(ctx); err != nil {
					return c, err
				}
			}
			c, err = projections.GetCredential(ctx, v.Store, tenant, id)
			if err != nil {
				return c, err
			}
			if c.Current != stale && c.Current != 0 {
				return c, nil
			}
			if c.ClaimedBy == "" || !v.Now().Before(c.ClaimedUntil) {
				break
			}
			if time.Now().After(deadline) {
				return c, fmt.Errorf("vault: credential %s: waited %s for another instance's refresh", id, staleWait)
			}
			t := time.NewTimer(20 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return c, ctx.Err()
			case <-t.C:
			}
		}
		if tries >= 3 || time.Now().After(deadline) {
			return c, fmt.Errorf("vault: credential %s: no newer token set after %d claims", id, tries+1)
		}
	}
}

// waiting: the refresh was not made here because another one is, was, or
// won the race to the claim.
func waiting(err error) bool {
	return errors.Is(err, errInFlight) || errors.Is(err, errNotStale) || errors.Is(err, errNotDue) || errors.Is(err, command.ErrContended)
}
