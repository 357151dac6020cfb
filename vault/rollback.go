package vault

import "github.com/gatehouse/gatehouse/projections"

// Rollback and rotated refresh tokens. A provider that rotates refresh
// tokens (Gatehouse's own, Salesforce, X, …) invalidates each refresh
// token once it answered with the next one, and may treat a second use
// as reuse and revoke the whole grant (RFC 9700 §4.14.2). Rolling back
// to an older version must therefore never bring its refresh token back:
// the rule is that a rollback changes the access token in use (the
// version callers are served, AccessToken) and nothing else, and every
// refresh is made with the refresh token of the newest version stored
// (refreshVersion), the only one the provider still honours. A rollback
// is refused (409) only when the version is not kept, is current, or has
// expired (api.go); it is never refused for its refresh token, which it
// does not use.

// refreshVersion is the token set a refresh of c starts from: the newest
// one holding a refresh token (the one the provider issued last, its
// refresh token the live one), whatever version a rollback made current;
// else the current one. Versions superseded by a change that needed
// reauthorization (SupersededThrough) are not refreshed from.
func refreshVersion(c projections.Credential) (projections.CredentialVersion, bool) {
	for i := len(c.Versions) - 1; i >= 0 && c.Versions[i].Version > c.SupersededThrough; i-- {
		if c.Versions[i].HasRefreshToken {
			return c.Versions[i], true
		}
	}
	return c.CurrentVersion()
}
