package authz

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// QuorumIdentities are the identities an approval by p stands for (its
// actor chain, whoever holds a credential of p's app, and for a user's
// token the app it was issued to, see quorumIdentities): the rule of
// distinct admins, for approvals decided outside this package (the
// vault's activities). Two approvals count as distinct only when their
// identities do not meet (Overlaps).
//
// A user's token issued to an app also stands for that app: the app holds
// the token and sends what it likes with it, so an app that requested an
// activity (or voted) never adds a vote through a person signed in to it
// (the scope decisions refuse the same). The console's principal names no
// app, so two admins there stay two.
func QuorumIdentities(ctx context.Context, r projections.Reader, p oauth.Principal, now time.Time) ([]string, error) {
	return quorumIdentities(ctx, r, p, now)
}

// Overlaps reports whether two sets of identities meet.
func Overlaps(a, b []string) bool { return overlaps(a, b) }
