package authz

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// Scope requests and decisions (API.md "Apps": scope-requests,
// scope-decisions; "Scope and event-type catalogs": quorum approvals).

// scopeRequestsBody is the body of POST …/scope-requests.
type scopeRequestsBody struct {
	Scopes []string `json:"scopes" maxItems:"100"`
}

// scopeDecisionBody is the body of POST …/scope-decisions.
type scopeDecisionBody struct {
	Scope    string `json:"scope"`
	Decision string `json:"decision"`
	Reason   string `json:"reason" text:"multiline"`
}

// Decisions an admin can make.
var scopeDecisions = []string{"approve", "reject", "revoke"}

// requestScopes adds pending requests. The caller holds
// platform:apps:write, or is the app itself.
func (a *Apps) requestScopes(c echo.Context) error {
	ctx := c.Request().Context()
	p := principal(c)
	id := c.Param("id")
	if !p.Has("platform:apps:write") && p.AppID != id {
		return InsufficientScope("platform:apps:write")
	}
	var req scopeRequestsBody
	if err := BindJSON(c, &req); err != nil {
		return err
	}
	var fe fieldErrs
	if len(req.Scopes) == 0 {
		fe.add("scopes", "must name at least one scope")
	}
	grants, err := a.initialGrants(ctx, p.Tenant, "scopes", req.Scopes, &fe)
	if err != nil {
		return err
	}
	if len(fe) > 0 {
		return Validation(fe...)
	}
	if _, err := a.load(ctx, p.Tenant, id); err != nil {
		return err
	}
	app, err := a.decide(ctx, func(ctx context.Context, r projections.Reader) (events.Append, string, error) {
		app, err := current(ctx, r, p, id, 0)
		if err != nil {
			return events.Append{}, "", err
		}
		var add []events.ScopeGrant
		for _, g := range grants {
			if i := slices.IndexFunc(app.Scopes, func(s projections.AppScope) bool { return s.Scope == g.Scope }); i >= 0 && app.Scopes[i].Status != "rejected" {
				continue // pending or approved already
			}
			add = append(add, g)
		}
		if len(add) == 0 {
			return events.Append{}, id, unchanged{app}
		}
		return a.appAppend(p, app, &events.AppScopeRequested{Scopes: add})
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(app.Version))
	return c.JSON(http.StatusOK, toAppJSON(app))
}

// decideScope approves, rejects or revokes one scope of an app.
func (a *Apps) decideScope(c echo.Context) error {
	ctx := c.Request().Context()
	p := principal(c)
	id := c.Param("id")
	var req scopeDecisionBody
	if err := BindJSON(c, &req); err != nil {
		return err
	}
	var fe fieldErrs
	if req.Scope == "" {
		fe.add("scope", "is required")
	} else if reservedScope(req.Scope) {
		fe.add("scope", "scope %q is reserved for the bootstrap admin", req.Scope)
	}
	if !slices.Contains(scopeDecisions, req.Decision) {
		fe.add("decision", "must be one of approve, reject, revoke")
	}
	if utf8.RuneCountInString(req.Reason) > maxDescription {
		fe.add("reason", "must be at most %d characters", maxDescription)
	}
	if len(fe) > 0 {
		return Validation(fe...)
	}
	if _, err := a.load(ctx, p.Tenant, id); err != nil {
		return err
	}
	app, err := a.decide(ctx, func(ctx context.Context, r projections.Reader) (events.Append, string, error) {
		app, err := current(ctx, r, p, id, 0)
		if err != nil {
			return events.Append{}, "", err
		}
		i := slices.IndexFunc(app.Scopes, func(s projections.AppScope) bool { return s.Scope == req.Scope })
		if i < 0 {
			return events.Append{}, "", Conflict(fmt.Sprintf("the app has not requested %q", req.Scope))
		}
		grant := app.Scopes[i]
		var ev events.Payload
		switch req.Decision {
		case "approve":
			switch {
			case grant.Status == "rejected":
				return events.Append{}, "", Conflict(fmt.Sprintf("%q was rejected; the app must request it again", req.Scope))
			case grant.Status == "approved" || slices.Contains(grant.Approvals, p.AppID):
				return events.Append{}, id, unchanged{app} // approving again counts once
			}
			need, err := a.approvalsRequired(ctx, p.Tenant, req.Scope)
			if err != nil {
				return events.Append{}, "", err
			}
			have := len(grant.Approvals) + 1
			if have >= need {
				ev = &events.AppScopeApproved{Scope: req.Scope, Reason: req.Reason, Approvals: have, ApprovalsRequired: need}
			} else {
				ev = &events.AppScopeApprovalAdded{Scope: req.Scope, Reason: req.Reason, Approvals: have, ApprovalsRequired: need}
			}
		case "reject":
			if grant.Status != "pending" {
				return events.Append{}, "", Conflict(fmt.Sprintf("%q is %s, not pending; revoke withdraws an approved scope", req.Scope, grant.Status))
			}
			ev = &events.AppScopeRejected{Scope: req.Scope, Reason: req.Reason}
		case "revoke":
			if grant.Status != "approved" {
				return events.Append{}, "", Conflict(fmt.Sprintf("%q is %s, not approved", req.Scope, grant.Status))
			}
			ev = &events.AppScopeRevoked{Scope: req.Scope, Reason: req.Reason}
		}
		return a.appAppend(p, app, ev)
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(app.Version))
	return c.JSON(http.StatusOK, toAppJSON(app))
}

// approvalsRequired is the quorum of scope now: its catalog entry's
// approvals_required (1 for built-in scopes and entries since deleted).
func (a *Apps) approvalsRequired(ctx context.Context, tenant, scope string) (int, error) {
	entry, ok, err := a.Catalog.LookupScope(ctx, tenant, scope)
	if err != nil || !ok {
		return 1, err
	}
	return max(entry.ApprovalsRequired, 1), nil
}

// appAppend is the append of one event about app, expecting its version.
func (a *Apps) appAppend(p Principal, app projections.App, ev events.Payload) (events.Append, string, error) {
	ref := appRef(p.Tenant, app.ID)
	evs, err := newEvents(actorOf(p), a.Now(), refPayload{ref, ev})
	if err != nil {
		return events.Append{}, "", err
	}
	return events.Append{Events: evs, Expect: []events.Expect{{Ref: ref, Seq: app.LastSeq}}}, app.ID, nil
}

// unchanged is returned by a decision that changes nothing: decide
// answers the app as it is, and no event is appended.
type unchanged struct{ app projections.App }

func (unchanged) Error() string { return "nothing to change" }
