package authz

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// QuorumIdentities are the identities an approval by p stands for (its
// actor chain and whoever holds a credential of p's app, see
// quorumIdentities): the rule of distinct admins, for approvals decided
// outside this package (the vault's activities). Two approvals count as
// distinct only when their identities do not meet (Overlaps).
func QuorumIdentities(ctx context.Context, r projections.Reader, p oauth.Principal, now time.Time) ([]string, error) {
	return quorumIdentities(ctx, r, p, now)
}

// Overlaps reports whether two sets of identities meet.
func Overlaps(a, b []string) bool { return overlaps(a, b) }
