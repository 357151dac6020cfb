package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// Approval activities (API.md "Upstream credentials (the vault)", as
// Turnkey's consensus): when the tenant's approval policy
// credential_create (or credential_delete) asks for N ≥ 2 distinct
// admins, POST /v1/credentials (DELETE /v1/credentials/{id}) answers 202
// with an activity instead of running. The rules:
//
//   - The request is the requester's approval (Turnkey counts the
//     initiator's vote): N-1 more distinct admins approve it at
//     POST /v1/platform/activities/{id}/decisions. The requester cannot
//     vote again, and "distinct" is the scope decisions' rule
//     (authz.QuorumIdentities: a service token counts as the admin that
//     minted it, an app as whoever holds its credentials).
//   - One rejection by a distinct admin rejects it.
//   - The vote that reaches the quorum runs the create or delete on the
//     same command path as the direct request, in the same atomic append
//     as the vote and activity.completed: the name's uniqueness and the
//     quota are checked again then, and a client_credentials or password
//     credential's first token set is fetched then. A failure (409, 403
//     quota_exceeded, 502 upstream_error, 404 for a credential deleted
//     meanwhile) is the activity's result, completed with its error.
//   - A pending activity expires after activityTTL (its document is
//     dropped); a finished one is kept projections.ActivityKept.
//   - Deciding needs credentials:write, reading credentials:read.

// activityTTL is how long an activity waits for its approvals.
const activityTTL = 7 * 24 * time.Hour

func activityRef(tenant, id string) events.Ref {
	return events.Ref{Tenant: tenant, Type: events.AggActivity, ID: id}
}

func (a *API) registerActivities(e *echo.Echo, auth *oauth.Authenticator) {
	g := e.Group("/v1/platform/activities")
	g.GET("", a.listActivities, auth.Require(ScopeRead))
	g.GET("/:id", a.getActivity, auth.Require(ScopeRead))
	g.POST("/:id/decisions", a.decideActivity, httpapi.NoStore, auth.Require(ScopeWrite), a.Idem.Middleware)
}

// quorum is the tenant's approval policy of subject (1: none).
func (a *API) quorum(ctx context.Context, tenant, subject string) (int, error) {
	pol, err := projections.GetApprovalPolicy(ctx, a.Store, tenant, subject)
	return max(pol.ApprovalsRequired, 1), err
}

// requestCreate starts a create activity when the tenant's policy asks
// for more than one approval (handled: the answer is written, or err is
// the request's error).
func (a *API) requestCreate(c echo.Context, p oauth.Principal, id string, spec events.CredentialCreated) (bool, error) {
	n, err := a.quorum(c.Request().Context(), p.Tenant, events.SubjectCredentialCreate)
	if err != nil || n < 2 {
		return err != nil, err
	}
	shown := spec
	shown.ClientSecretSealed, shown.PasswordSealed = "", ""
	intent, err := json.Marshal(shown)
	if err != nil {
		return true, err
	}
	return true, a.request(c, p, n, &events.ActivityRequested{Type: events.ActivityCredentialCreate, CredentialID: id, Intent: intent, Create: &spec})
}

// requestDelete starts a delete activity when the policy asks for it.
func (a *API) requestDelete(c echo.Context, p oauth.Principal, cur projections.Credential) (bool, error) {
	n, err := a.quorum(c.Request().Context(), p.Tenant, events.SubjectCredentialDelete)
	if err != nil || n < 2 {
		return err != nil, err
	}
	intent, err := json.Marshal(map[string]string{"credential_id": cur.ID, "name": cur.Name})
	if err != nil {
		return true, err
	}
	return true, a.request(c, p, n, &events.ActivityRequested{Type: events.ActivityCredentialDelete, CredentialID: cur.ID, Intent: intent})
}

// request appends req as a new activity needing n approvals and answers
// it: 202.
func (a *API) request(c echo.Context, p oauth.Principal, n int, req *events.ActivityRequested) error {
	ctx := c.Request().Context()
	now := a.Now()
	ids, err := authz.QuorumIdentities(ctx, a.Store, p, now)
	if err != nil {
		return err
	}
	req.ApprovalsRequired, req.Identities, req.ExpiresAt = n, ids, now.Add(activityTTL).UTC().Truncate(time.Second)
	id := events.NewID("act")
	ref := activityRef(p.Tenant, id)
	_, err = command.Run(ctx, a.commands(quotaAttempts), func(ctx context.Context, _ int) (command.Decision, error) {
		pairs, expect := []events.Change{{Ref: ref, Payload: req}}, []events.Expect{{Ref: ref}}
		if req.Type == events.ActivityCredentialCreate {
			// The pending create holds a slot of the quota (quota.go).
			held, quota, err := a.quotaChange(ctx, p.Tenant, 0, &events.QuotaReservation{ID: id, Until: req.ExpiresAt}, "", now)
			if err != nil {
				return command.Decision{}, err
			}
			pairs, expect = append(pairs, held), append(expect, quota)
		}
		ap, err := appendAs(p, now, pairs, expect...)
		return command.Decision{Append: ap}, err
	})
	if err != nil {
		return err
	}
	act, err := projections.GetActivity(ctx, a.Store, p.Tenant, id)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/v1/platform/activities/"+id)
	return authz.Versioned(c, http.StatusAccepted, act.Version, activityOf(act, p, ids))
}

// ActivityView is the activity object of API.md.
type ActivityView struct {
	ID                string                `json:"id"`
	Type              string                `json:"type"`
	Status            events.ActivityStatus `json:"status"`
	Intent            json.RawMessage       `json:"intent"`
	ApprovalsRequired int                   `json:"approvals_required"`
	Votes             []VoteView            `json:"votes"`
	CanApprove        bool                  `json:"can_approve"`
	CanReject         bool                  `json:"can_reject"`
	Result            json.RawMessage       `json:"result"`
	CreatedAt         time.Time             `json:"created_at"`
	ExpiresAt         time.Time             `json:"expires_at"`
	Version           uint64                `json:"version"`
}

// VoteView is one admin's decision on an activity.
type VoteView struct {
	Actor    events.Actor `json:"actor"`
	Decision string       `json:"decision"`
	Reason   string       `json:"reason,omitempty"`
	At       time.Time    `json:"at"`
}

// activityOf shows act to p, whose approvals stand for mine.
func activityOf(act projections.Activity, p oauth.Principal, mine []string) ActivityView {
	out := ActivityView{ID: act.ID, Type: act.Type, Status: act.Status, Intent: act.Intent, ApprovalsRequired: act.ApprovalsRequired,
		Votes: make([]VoteView, len(act.Votes)), Result: json.RawMessage("null"), CreatedAt: act.CreatedAt, ExpiresAt: act.ExpiresAt, Version: act.Version}
	voted := false
	for i, v := range act.Votes {
		out.Votes[i] = VoteView{Actor: v.Actor, Decision: v.Decision, Reason: v.Reason, At: v.At}
		voted = voted || authz.Overlaps(mine, v.Identities)
	}
	may := act.Status == events.ActivityPending && !voted && p.Has(ScopeWrite)
	out.CanApprove, out.CanReject = may, may
	switch {
	case act.Error != nil:
		out.Result, _ = json.Marshal(map[string]any{"error": act.Error})
	case len(act.Result) > 0:
		out.Result = act.Result
	}
	return out
}

// loadActivity reads the activity the request's path names (authz.Load).
func (a *API) loadActivity(c echo.Context) (projections.Activity, error) {
	return authz.Load(c.Request().Context(), "activity", a.CatchUp, authz.Named(c, a.Store, projections.GetActivity))
}

func (a *API) getActivity(c echo.Context) error {
	ctx := c.Request().Context()
	p := oauth.PrincipalOf(c)
	act, err := a.loadActivity(c)
	if err != nil {
		return err
	}
	mine, err := authz.QuorumIdentities(ctx, a.Store, p, a.Now())
	if err != nil {
		return err
	}
	return authz.Versioned(c, http.StatusOK, act.Version, activityOf(act, p, mine))
}

// listActivities answers one page of the tenant's activities, each as
// the caller sees it (whether it may still vote).
//
// The caller's identities are read after the page: a bad ?limit= or
// ?cursor= is refused before anything is read.
func (a *API) listActivities(c echo.Context) error {
	p := oauth.PrincipalOf(c)
	list := authz.Listed(c, a.Store, projections.ListActivities)
	var mine []string
	return authz.ListPage(c, func(ctx context.Context, page projections.Page) ([]projections.Activity, string, error) {
		acts, next, err := list(ctx, page)
		if err == nil {
			mine, err = authz.QuorumIdentities(ctx, a.Store, p, a.Now())
		}
		return acts, next, err
	}, func(act projections.Activity) ActivityView { return activityOf(act, p, mine) })
}

// decideActivity records an approval or a rejection; the approval that
// reaches the quorum runs the activity in the same append.
func (a *API) decideActivity(c echo.Context) error {
	ctx := c.Request().Context()
	p := oauth.PrincipalOf(c)
	var req struct {
		Decision string `json:"decision"`
		Reason   string `json:"reason"`
	}
	if err := httpapi.BindJSON(c, &req); err != nil {
		return err
	}
	var fe []httpapi.FieldError
	if req.Decision != events.DecisionApprove && req.Decision != events.DecisionReject {
		fe = append(fe, httpapi.FieldError{Field: "decision", Message: `must be "approve" or "reject"`})
	}
	if msg := checkText(req.Reason, 500); msg != "" {
		fe = append(fe, httpapi.FieldError{Field: "reason", Message: msg})
	}
	if len(fe) > 0 {
		return httpapi.Validation(fe...)
	}
	act, err := a.loadActivity(c)
	if err != nil {
		return err
	}
	// If-Match: a vote from a stale page (the activity changed since) is
	// 412, not counted.
	match, err := authz.IfMatch(c, act.Version)
	if err != nil {
		return err
	}
	now := a.Now()
	mine, err := authz.QuorumIdentities(ctx, a.Store, p, now)
	if err != nil {
		return err
	}
	if err := mayVote(act, mine); err != nil {
		return err
	}
	// The provider is asked before the append, once (not per attempt of
	// the command): only when this approval completes a create.
	var tokens *events.CredentialTokensStored
	var fetchErr *events.ActivityError
	completes := req.Decision == events.DecisionApprove && act.Approvals()+1 >= act.ApprovalsRequired
	if completes && act.Create != nil {
		if tokens, fetchErr, err = a.activityTokens(ctx, act); err != nil {
			return err
		}
	}
	_, err = command.Run(ctx, a.commands(quotaAttempts), func(ctx context.Context, _ int) (command.Decision, error) {
		act, err := projections.GetActivity(ctx, a.Store, p.Tenant, act.ID)
		if err != nil {
			return command.Decision{}, err
		}
		if err := command.Match(match, act.Version); err != nil {
			return command.Decision{}, err
		}
		if err := mayVote(act, mine); err != nil {
			return command.Decision{}, err
		}
		ap, err := a.voteAppend(ctx, p, act, req.Decision, req.Reason, mine, completes, tokens, fetchErr, now)
		return command.Decision{Append: ap}, err
	})
	if err != nil {
		return err
	}
	a.Kick()
	act, err = projections.GetActivity(ctx, a.Store, p.Tenant, act.ID)
	if err != nil {
		return err
	}
	return authz.Versioned(c, http.StatusOK, act.Version, activityOf(act, p, mine))
}

// mayVote refuses a vote on a finished activity (409) or by an admin
// whose earlier vote (the request included) stands for one of the same
// identities (403: each admin counts once).
func mayVote(act projections.Activity, mine []string) error {
	if act.Status != events.ActivityPending {
		return httpapi.Conflict(fmt.Sprintf("the activity is %s", act.Status))
	}
	for _, v := range act.Votes {
		if authz.Overlaps(mine, v.Identities) {
			return httpapi.Forbidden(fmt.Sprintf("%s voted on this activity already, and this caller acts for or holds credentials of it: each admin counts once", v.Actor.Root()))
		}
	}
	return nil
}

// activityTokens fetches the first token set of the credential a create
// activity makes (nil for interactive grants); a refusal is the
// activity's error, not the request's.
func (a *API) activityTokens(ctx context.Context, act projections.Activity) (*events.CredentialTokensStored, *events.ActivityError, error) {
	spec := *act.Create
	secret, password, err := a.openSecrets(projections.Credential{ID: act.CredentialID, ClientSecretSealed: spec.ClientSecretSealed, PasswordSealed: spec.PasswordSealed})
	if err != nil {
		return nil, nil, err
	}
	tokens, err := a.initialTokens(ctx, act.Tenant, act.CredentialID, spec, secret, password)
	if pe := problemOf(err); pe != nil {
		return nil, pe, nil
	}
	return tokens, nil, err
}

// problemOf turns a refusal into an activity's error (nil: err is not
// a refusal).
func problemOf(err error) *events.ActivityError {
	var pr *httpapi.Problem
	if !errors.As(err, &pr) {
		return nil
	}
	return &events.ActivityError{Status: pr.Status, Code: pr.Code, Detail: pr.Detail}
}

// voteAppend is the append of p's vote on act; when it completes the
// activity (completes, decided on the activity as read before the
// provider was asked), the create or delete and activity.completed join it.
func (a *API) voteAppend(ctx context.Context, p oauth.Principal, act projections.Activity, decision, reason string, mine []string,
	completes bool, tokens *events.CredentialTokensStored, fetchErr *events.ActivityError, now time.Time) (events.Append, error) {
	ref := activityRef(p.Tenant, act.ID)
	pairs := []events.Change{{Ref: ref, Payload: &events.ActivityVoted{Decision: decision, Reason: reason, Identities: mine}}}
	expect := []events.Expect{{Ref: ref, Seq: act.LastSeq}}
	failed := false
	if decision == events.DecisionApprove && act.Approvals()+1 >= act.ApprovalsRequired {
		if !completes {
			// Approvals only grow, so this cannot happen; if it did, the
			// provider was not asked: refuse rather than run half.
			return events.Append{}, command.ErrContended
		}
		fin := &events.ActivityFinished{Error: fetchErr}
		if fetchErr == nil {
			more, exp, err := a.runChanges(ctx, act, tokens)
			if fin.Error = problemOf(err); fin.Error == nil && err != nil {
				return events.Append{}, err
			}
			if fin.Error == nil {
				pairs, expect = append(pairs, more...), append(expect, exp...)
				if fin.Result, err = json.Marshal(map[string]string{"credential_id": act.CredentialID}); err != nil {
					return events.Append{}, err
				}
			}
		}
		pairs, failed = append(pairs, events.Change{Ref: ref, Payload: fin}), fin.Error != nil
	}
	// A create that will not happen (rejected, or failed) frees its hold.
	if act.Type == events.ActivityCredentialCreate && (decision == events.DecisionReject || failed) {
		freed, quota, err := a.quotaChange(ctx, p.Tenant, 0, nil, act.ID, now)
		if err != nil {
			return events.Append{}, err
		}
		pairs, expect = append(pairs, freed), append(expect, quota)
	}
	return appendAs(p, now, pairs, expect...)
}

// runChanges are the events of what act does, decided now.
func (a *API) runChanges(ctx context.Context, act projections.Activity, tokens *events.CredentialTokensStored) ([]events.Change, []events.Expect, error) {
	switch act.Type {
	case events.ActivityCredentialCreate:
		spec := *act.Create
		return a.createChanges(ctx, act.Tenant, act.CredentialID, &spec, tokens, nil, act.ID)
	case events.ActivityCredentialDelete:
		return a.deleteChanges(ctx, act.Tenant, act.CredentialID, 0)
	}
	return nil, nil, fmt.Errorf("vault: activity %s of unknown type %q", act.ID, act.Type)
}
