package events

import (
	"encoding/json"
	"time"
)

// This file holds the payloads of approval activities (API.md "Upstream
// credentials (the vault)": a tenant may require N distinct admins to
// approve creating or deleting a credential, as Turnkey's consensus
// does). An activity is the aggregate AggActivity on the control stream.
// The request is the requester's approval; each further vote is
// activity.voted; the vote that reaches the quorum is appended in one
// atomic batch with what the activity runs (the credential's events) and
// activity.completed, or with activity.completed naming the error when
// that failed (a name taken since, the quota reached, the provider
// refusing).

// AggActivity is the aggregate type of approval activities.
const AggActivity = "activity"

// Activity types.
const (
	ActivityCredentialCreate = "credential.create"
	ActivityCredentialDelete = "credential.delete"
)

// ActivityStatus is an activity's status.
type ActivityStatus string

// Activity statuses (API.md).
const (
	ActivityPending   ActivityStatus = "pending_approval"
	ActivityCompleted ActivityStatus = "completed"
	ActivityRejected  ActivityStatus = "rejected"
)

// Votes' decisions.
const (
	DecisionApprove = "approve"
	DecisionReject  = "reject"
)

// ActivityRequested starts an activity that needs ApprovalsRequired
// distinct admins (the tenant's approval policy of its type when it was
// requested); the request counts as the requester's approval.
// Identities are the actors that approval stands for (the requester's
// actor chain and whoever holds its app's credentials), so no one
// approves twice through another token.
type ActivityRequested struct {
	Type              string `json:"type"`
	ApprovalsRequired int    `json:"approvals_required"`
	// CredentialID is the credential the activity creates or deletes.
	CredentialID string `json:"credential_id"`
	// Intent is what the activity does as the API shows it: never a
	// secret.
	Intent json.RawMessage `json:"intent"`
	// Create is the credential.created a create activity appends once
	// approved; its secret and password are sealed for CredentialID
	// (members ending in _sealed).
	Create     *CredentialCreated `json:"create,omitempty"`
	Identities []string           `json:"identities"`
	// ExpiresAt: a pending activity not decided by then is dropped.
	ExpiresAt time.Time `json:"expires_at"`
}

// ActivityVoted is an admin's approval or rejection; one rejection
// rejects the activity.
type ActivityVoted struct {
	Decision   string   `json:"decision"`
	Reason     string   `json:"reason,omitempty"`
	Identities []string `json:"identities"`
}

// ActivityError is the error an approved activity ended with: the
// problem the direct request would have answered.
type ActivityError struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// ActivityFinished ends an approved activity: it ran (Result, e.g.
// {"credential_id"}), or it failed (Error).
type ActivityFinished struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *ActivityError  `json:"error,omitempty"`
}

// The approval-policy subjects of credential activities
// (/v1/platform/approval-policies/{subject}, events.ApprovalPolicySet):
// how many distinct admins must approve creating, or deleting, a
// credential. 1 (the default) means no activity: the request runs at once.
const (
	SubjectCredentialCreate = "credential_create"
	SubjectCredentialDelete = "credential_delete"
)
