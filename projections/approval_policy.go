package projections

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/events"
)

// KindApprovalPolicy is the document kind of a tenant's approval policies
// (API.md "Users and sign-in": grant types and redirect URIs approved with
// the quorum configured for the tenant), by "<tenant>/<subject kind>".
// A tenant that set none has no document: the quorum is 1.
const KindApprovalPolicy = "approval_policy"

// ApprovalPolicy is the quorum of one kind of app approval (grant types,
// redirect URIs) in a tenant.
type ApprovalPolicy struct {
	Subject           string `json:"subject"`
	Tenant            string `json:"tenant"`
	ApprovalsRequired int    `json:"approvals_required"`
	Version           uint64 `json:"version"`
	// LastSeq is the sequence of the policy's last event: the Expect of
	// its next change (0 while it was never set).
	LastSeq uint64 `json:"last_seq"`
}

var _ = on(func(tx Tx, e events.Event, p *events.ApprovalPolicySet) error {
	id := catalogDocID(e.Tenant(), p.Subject)
	pol := ApprovalPolicy{Subject: p.Subject, Tenant: e.Tenant()}
	if d, err := tx.Get(KindApprovalPolicy, id); err == nil {
		if pol, err = decode[ApprovalPolicy](d); err != nil {
			return err
		}
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	pol.ApprovalsRequired = p.ApprovalsRequired
	pol.Version++
	pol.LastSeq = e.Seq
	return putJSON(tx, Doc{Kind: KindApprovalPolicy, ID: id, Tenant: e.Tenant(), Sort: p.Subject}, pol)
})

// GetApprovalPolicy returns tenant's approval policy of subject kind
// (events.SubjectGrantType, SubjectRedirectURI): the one set, or the
// default (a quorum of 1, version 0) when none was.
func GetApprovalPolicy(ctx context.Context, r Reader, tenant, kind string) (ApprovalPolicy, error) {
	return getViewOr(ctx, r, KindApprovalPolicy, catalogDocID(tenant, kind), ApprovalPolicy{Subject: kind, Tenant: tenant, ApprovalsRequired: 1})
}
