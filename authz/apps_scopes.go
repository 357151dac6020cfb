package authz

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
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
	p := oauth.PrincipalOf(c)
	id := c.Param("id")
	if !p.Has("platform:apps:write") && p.AppID != id {
		return httpapi.InsufficientScope("platform:apps:write")
	}
	var req scopeRequestsBody
	if err := httpapi.BindJSON(c, &req); err != nil {
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
		return httpapi.Validation(fe...)
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
			if i := slices.IndexFunc(app.Scopes, func(s projections.AppScope) bool { return s.Scope == g.Scope }); i >= 0 && app.Scopes[i].Status != events.GrantRejected {
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
	return Versioned(c, http.StatusOK, app.Version, toAppJSON(app))
}

// decideScope approves, rejects or revokes one scope of an app.
func (a *Apps) decideScope(c echo.Context) error {
	ctx := c.Request().Context()
	p := oauth.PrincipalOf(c)
	id := c.Param("id")
	var req scopeDecisionBody
	if err := httpapi.BindJSON(c, &req); err != nil {
		return err
	}
	var fe fieldErrs
	if req.Scope == "" {
		fe.add("scope", "is required")
	} else if catalog.Reserved(req.Scope) {
		fe.add("scope", "scope %q is reserved for the bootstrap admin", req.Scope)
	}
	if !slices.Contains(scopeDecisions, req.Decision) {
		fe.add("decision", "must be one of approve, reject, revoke")
	}
	if utf8.RuneCountInString(req.Reason) > maxDescription {
		fe.add("reason", "must be at most %d characters", maxDescription)
	}
	if len(fe) > 0 {
		return httpapi.Validation(fe...)
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
			return events.Append{}, "", httpapi.Conflict(fmt.Sprintf("the app has not requested %q", req.Scope))
		}
		grant := app.Scopes[i]
		var ev events.Payload
		switch req.Decision {
		case "approve":
			ev, err = a.approve(ctx, r, p, app, grant, req)
			if u, ok := err.(unchanged); ok {
				return events.Append{}, id, u
			}
			if err != nil {
				return events.Append{}, "", err
			}
		case "reject":
			if grant.Status != events.GrantPending {
				return events.Append{}, "", httpapi.Conflict(fmt.Sprintf("%q is %s, not pending; revoke withdraws an approved scope", req.Scope, grant.Status))
			}
			ev = &events.AppScopeRejected{Scope: req.Scope, Reason: req.Reason}
		case "revoke":
			if grant.Status != events.GrantApproved {
				return events.Append{}, "", httpapi.Conflict(fmt.Sprintf("%q is %s, not approved", req.Scope, grant.Status))
			}
			ev = &events.AppScopeRevoked{Scope: req.Scope, Reason: req.Reason}
		}
		return a.appAppend(p, app, ev)
	})
	if err != nil {
		return err
	}
	return Versioned(c, http.StatusOK, app.Version, toAppJSON(app))
}

// approve decides one approval of grant by p (API.md "Scope and
// event-type catalogs": quorum): refused when p may not approve it
// (mayApprove) or stands for an actor that approved it already
// (checkQuorum); the same actor approving again changes nothing. The
// approval that completes the quorum of a scope revoked in this very
// second waits for the next one, so tokens it lets the app mint are
// told apart from the ones the revocation killed (iat has whole seconds).
func (a *Apps) approve(ctx context.Context, r projections.Reader, p oauth.Principal, app projections.App, grant projections.AppScope, req scopeDecisionBody) (events.Payload, error) {
	now := a.Now()
	if err := mayApprove(p, app, req.Scope, now); err != nil {
		return nil, err
	}
	switch {
	case grant.Status == events.GrantRejected:
		return nil, httpapi.Conflict(fmt.Sprintf("%q was rejected; the app must request it again", req.Scope))
	case grant.Status == events.GrantApproved || slices.Contains(grant.Approvals, oauth.ActorOf(p).Root()):
		return nil, unchanged{app} // approving again counts once
	}
	if err := checkQuorum(ctx, r, p, grant, now); err != nil {
		return nil, err
	}
	need, err := a.approvalsRequired(ctx, p.Tenant, req.Scope)
	if err != nil {
		return nil, err
	}
	have := len(grant.Approvals) + 1
	if have < need {
		return &events.AppScopeApprovalAdded{Scope: req.Scope, Reason: req.Reason, Approvals: have, ApprovalsRequired: need}, nil
	}
	if err := waitPastKill(ctx, a.Now, grant.RevokedAt); err != nil {
		return nil, err
	}
	return &events.AppScopeApproved{Scope: req.Scope, Reason: req.Reason, Approvals: have, ApprovalsRequired: need}, nil
}

// waitPastKill returns once now is past the whole second of the kill at
// (nil: at once). Tokens carry their iat in whole seconds, and a kill
// covers every token issued in its second (projections.App.ScopeGranted),
// so what undoes a kill waits for the next second: a token minted after
// it is never taken for one the kill covers. It waits at most a second.
func waitPastKill(ctx context.Context, now func() time.Time, at *time.Time) error {
	if at == nil {
		return nil
	}
	next := time.Unix(at.Unix()+1, 0)
	d := next.Sub(now())
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(min(d, time.Second))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
func (a *Apps) appAppend(p oauth.Principal, app projections.App, ev events.Payload) (events.Append, string, error) {
	ref := appRef(p.Tenant, app.ID)
	evs, err := events.NewAll(oauth.ActorOf(p), a.Now(), events.Change{Ref: ref, Payload: ev})
	if err != nil {
		return events.Append{}, "", err
	}
	return events.Append{Events: evs, Expect: []events.Expect{{Ref: ref, Seq: app.LastSeq}}}, app.ID, nil
}

// unchanged is returned by a decision that changes nothing: decide
// answers the app as it is, and no event is appended.
type unchanged struct{ app projections.App }

func (unchanged) Error() string { return "nothing to change" }
