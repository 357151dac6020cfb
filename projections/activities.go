package projections

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// KindActivity is the document kind of approval activities (package
// vault, API.md "Upstream credentials (the vault)": creating or deleting
// a credential under a tenant's approval policy), by activity id, sorted
// by when it was requested. Retention: a pending activity is dropped at
// its ExpiresAt, a finished one ActivityKept after it finished (both by
// the control stream's log clock).
const KindActivity = "activity"

// ActivityKept is how long a finished activity stays readable.
const ActivityKept = 90 * 24 * time.Hour

// Activity is an approval activity as the server knows it.
type Activity struct {
	ID                string                `json:"id"`
	Tenant            string                `json:"tenant"`
	Type              string                `json:"type"`
	Status            events.ActivityStatus `json:"status"`
	ApprovalsRequired int                   `json:"approvals_required"`
	CredentialID      string                `json:"credential_id"`
	Intent            json.RawMessage       `json:"intent"`
	// Create is the credential.created to append once approved (sealed
	// members only); it never leaves the server.
	Create    *events.CredentialCreated `json:"create,omitempty"`
	Votes     []ActivityVote            `json:"votes"`
	Result    json.RawMessage           `json:"result,omitempty"`
	Error     *events.ActivityError     `json:"error,omitempty"`
	CreatedAt time.Time                 `json:"created_at"`
	UpdatedAt time.Time                 `json:"updated_at"`
	ExpiresAt time.Time                 `json:"expires_at"`
	Version   uint64                    `json:"version"`
	LastSeq   uint64                    `json:"last_seq"`
}

// ActivityVote is one admin's decision; the request is the requester's
// approval.
type ActivityVote struct {
	Actor      events.Actor `json:"actor"`
	Decision   string       `json:"decision"`
	Reason     string       `json:"reason,omitempty"`
	Identities []string     `json:"identities"`
	At         time.Time    `json:"at"`
}

// Approvals counts the approving votes.
func (a Activity) Approvals() int {
	n := 0
	for _, v := range a.Votes {
		if v.Decision == events.DecisionApprove {
			n++
		}
	}
	return n
}

func (a Activity) clone() Activity {
	a.Votes = slices.Clone(a.Votes)
	return a
}

var (
	_ = on(func(tx Tx, e events.Event, p *events.ActivityRequested) error {
		if err := createsView(tx, e, KindActivity); err != nil {
			return err
		}
		a := Activity{ID: e.Aggregate.ID, Tenant: e.Tenant(), Type: p.Type, Status: events.ActivityPending,
			ApprovalsRequired: p.ApprovalsRequired, CredentialID: p.CredentialID, Intent: p.Intent, Create: p.Create,
			Votes:     []ActivityVote{{Actor: e.Actor, Decision: events.DecisionApprove, Identities: p.Identities, At: e.Time}},
			CreatedAt: e.Time, ExpiresAt: p.ExpiresAt}
		if err := putActivity(tx, e, a); err != nil {
			return err
		}
		return ExpireAt(tx, events.Control, KindActivity, a.ID, p.ExpiresAt)
	})
	_ = on(func(tx Tx, e events.Event, p *events.ActivityVoted) error {
		a, err := loadActivity(tx, e)
		if err != nil {
			return err
		}
		a.Votes = append(a.Votes, ActivityVote{Actor: e.Actor, Decision: p.Decision, Reason: p.Reason, Identities: p.Identities, At: e.Time})
		if p.Decision == events.DecisionReject {
			return finishActivity(tx, e, a, events.ActivityRejected)
		}
		return putActivity(tx, e, a)
	})
	_ = on(func(tx Tx, e events.Event, p *events.ActivityFinished) error {
		a, err := loadActivity(tx, e)
		if err != nil {
			return err
		}
		a.Result, a.Error = p.Result, p.Error
		return finishActivity(tx, e, a, events.ActivityCompleted)
	})
)

// finishActivity stores a ended with status: what it would have created
// goes (Create, the credential.created it would append, secrets sealed),
// and the activity stays readable for ActivityKept from e.
func finishActivity(tx Tx, e events.Event, a Activity, status events.ActivityStatus) error {
	a.Status, a.Create = status, nil
	if err := ExpireAt(tx, events.Control, KindActivity, a.ID, e.Time.Add(ActivityKept)); err != nil {
		return err
	}
	return putActivity(tx, e, a)
}

func loadActivity(tx Tx, e events.Event) (Activity, error) {
	return loadView(tx, e, KindActivity, Activity.clone)
}

func putActivity(tx Tx, e events.Event, a Activity) error {
	a.Version++
	a.LastSeq, a.UpdatedAt = e.Seq, e.Time
	return putCached(tx, Doc{Kind: KindActivity, ID: a.ID, Tenant: a.Tenant, Sort: SortTime(a.CreatedAt)}, a)
}

// GetActivity returns activity id of tenant; another tenant's is
// ErrNotFound like a missing one.
func GetActivity(ctx context.Context, r Reader, tenant, id string) (Activity, error) {
	return getTenantView(ctx, r, tenant, KindActivity, id, Activity.clone)
}

// ListActivities returns a page of tenant's activities, oldest first.
func ListActivities(ctx context.Context, r Reader, tenant string, p Page) ([]Activity, string, error) {
	return listViews[Activity](ctx, r, KindActivity, tenant, p)
}
