package vault

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/projections"
)

// The per-tenant credential quota (GATEHOUSE_CREDENTIALS_PER_TENANT) is
// the tenant's quota aggregate (events.QuotaRef, kind
// QuotaCredentials): every append that takes or frees a slot appends
// quota.counted to it expecting the version its decision read, as name
// claims do, so concurrent creates on any instance conflict and decide
// again, and the cap holds exactly. The counter is exact (Exact): a
// create appends Count+1, a delete Count-1, and a create reads one
// document instead of listing the tenant (O(1)). A counter written
// before it was exact (older logs) is recounted once by listing.
//
// A create activity waiting for approvals holds a slot (Reserve) from
// its request until it completes (the hold becomes the credential, or
// is released when the create failed), is rejected (Release), or
// expires (the hold lapses at the activity's expires_at, no event). A
// request that would pass the cap counting those holds is 403
// quota_exceeded.

// quotaLimit is the tenant's cap.
// quotaAttempts is how often a command that moves the tenant's quota
// counter decides before it gives up (409): every create, delete and
// pending create of a tenant's credentials expects that one counter, so
// n of them at once take up to n rounds (each round one wins; the others
// catch up and decide again). command.DefaultAttempts (5) answered 409
// to the sixth of a burst of creates.
const quotaAttempts = 64

func (a *API) quotaLimit() int {
	if a.PerTenant <= 0 {
		return DefaultPerTenant
	}
	return a.PerTenant
}

// quotaCount reads the tenant's counter and how many credentials it
// holds (counted once when the counter is not exact yet).
func (a *API) quotaCount(ctx context.Context, tenant string) (projections.Quota, int, error) {
	q, err := projections.GetQuota(ctx, a.Store, tenant, events.QuotaCredentials, tenant)
	if err != nil || q.Exact {
		return q, q.Count, err
	}
	n := 0
	for page := (projections.Page{Limit: 500}); ; {
		creds, next, err := projections.ListCredentials(ctx, a.Store, tenant, page)
		if err != nil {
			return q, 0, err
		}
		n += len(creds)
		if next == "" {
			return q, n, nil
		}
		page.After = next
	}
}

// quotaChange is the quota.counted of a change of the tenant's
// credentials by delta (+1 create, -1 delete, 0 none), with reserve (a
// new activity's hold) and release (the activity whose hold ends), and
// the counter version to expect. Taking a slot (delta > 0 or reserve)
// is refused at the cap, holds included, unless it turns release's own
// hold into the credential.
func (a *API) quotaChange(ctx context.Context, tenant string, delta int, reserve *events.QuotaReservation, release string, now time.Time) (events.Change, events.Expect, error) {
	q, n, err := a.quotaCount(ctx, tenant)
	if err != nil {
		return events.Change{}, events.Expect{}, err
	}
	takes := delta > 0 || reserve != nil
	if takes && !(release != "" && q.Holds(now, release)) {
		held := q.Held(now, release)
		if limit := a.quotaLimit(); n+held >= limit {
			return events.Change{}, events.Expect{}, httpapi.QuotaExceeded(fmt.Sprintf(
				"the tenant has %d credentials and %d awaiting approval; a tenant may have %d (GATEHOUSE_CREDENTIALS_PER_TENANT)", n, held, limit))
		}
	}
	ref := events.QuotaRef(tenant, events.QuotaCredentials, tenant)
	return events.Change{Ref: ref, Payload: &events.QuotaCounted{Kind: events.QuotaCredentials, Owner: tenant,
			Count: max(n+delta, 0), Exact: true, Reserve: reserve, Release: release}},
		events.Expect{Ref: ref, Seq: q.LastSeq}, nil
}
