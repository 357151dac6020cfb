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

// scopeDecisionBody is the body of POST …/scope-decisions: exactly one
// of scope, grant_type and redirect_uri names what is decided (API.md
// "Users and sign-in": grant types and redirect URIs are approved through
// the same endpoint).
type scopeDecisionBody struct {
	Scope       string `json:"scope"`
	GrantType   string `json:"grant_type"`
	RedirectURI string `json:"redirect_uri"`
	Decision    string `json:"decision"`
	Reason      string `json:"reason" text:"multiline"`
}

// subject is what the decision is about.
func (b scopeDecisionBody) subject() events.Subject {
	switch {
	case b.GrantType != "":
		return events.Subject{Kind: events.SubjectGrantType, Name: b.GrantType}
	case b.RedirectURI != "":
		return events.Subject{Kind: events.SubjectRedirectURI, Name: b.RedirectURI}
	default:
		return events.Subject{Kind: events.SubjectScope, Name: b.Scope}
	}
}

// validate reports every problem of the body.
func (b scopeDecisionBody) validate() fieldErrs {
	var fe fieldErrs
	set := 0
	for _, v := range []string{b.Scope, b.GrantType, b.RedirectURI} {
		if v != "" {
			set++
		}
	}
	switch {
	case set == 0:
		fe.add("scope", "is required (or grant_type, or redirect_uri)")
	case set > 1:
		fe.add("scope", "name exactly one of scope, grant_type and redirect_uri")
	case catalog.Reserved(b.Scope):
		fe.add("scope", "scope %q is reserved for the bootstrap admin", b.Scope)
	case b.GrantType != "" && !projections.GrantNeedsApproval(b.GrantType):
		fe.add("grant_type", "only authorization_code is approved per tenant (client_credentials needs no approval; refresh_token follows authorization_code)")
	case utf8.RuneCountInString(b.RedirectURI) > 2048:
		fe.add("redirect_uri", "must be at most 2048 characters")
	}
	if !slices.Contains(scopeDecisions, b.Decision) {
		fe.add("decision", "must be one of approve, reject, revoke")
	}
	if utf8.RuneCountInString(b.Reason) > maxDescription {
		fe.add("reason", "must be at most %d characters", maxDescription)
	}
	return fe
}

// decisionPayload is the event of decision on sub (the scope events, with
// the field of sub's kind set).
func decisionPayload(decision string, sub events.Subject, reason string, approvals, need int) events.Payload {
	var scope, gt, uri string
	switch sub.Kind {
	case events.SubjectGrantType:
		gt = sub.Name
	case events.SubjectRedirectURI:
		uri = sub.Name
	default:
		scope = sub.Name
	}
	switch decision {
	case "approval_added":
		return &events.AppScopeApprovalAdded{Scope: scope, GrantType: gt, RedirectURI: uri, Reason: reason, Approvals: approvals, ApprovalsRequired: need}
	case "approve":
		return &events.AppScopeApproved{Scope: scope, GrantType: gt, RedirectURI: uri, Reason: reason, Approvals: approvals, ApprovalsRequired: need}
	case "reject":
		return &events.AppScopeRejected{Scope: scope, GrantType: gt, RedirectURI: uri, Reason: reason}
	default:
		return &events.AppScopeRevoked{Scope: scope, GrantType: gt, RedirectURI: uri, Reason: reason}
	}
}

// Decisions an admin can make.
var scopeDecisions = []string{"approve", "reject", "revoke"}

// requestScopes adds pending requests. The caller holds
// platform:apps:write, or is the app itself.
func (a *Apps) requestScopes(ctx context.Context, c echo.Context, p oauth.Principal) error {
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
	if _, err := a.app().Load(ctx, p.Tenant, id); err != nil {
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

// decideScope approves, rejects or revokes one scope, grant type or
// redirect URI of an app.
func (a *Apps) decideScope(ctx context.Context, c echo.Context, p oauth.Principal, req scopeDecisionBody) error {
	id := c.Param("id")
	if fe := req.validate(); len(fe) > 0 {
		return httpapi.Validation(fe...)
	}
	if _, err := a.app().Load(ctx, p.Tenant, id); err != nil {
		return err
	}
	sub := req.subject()
	app, err := a.decide(ctx, func(ctx context.Context, r projections.Reader) (events.Append, string, error) {
		app, err := current(ctx, r, p, id, 0)
		if err != nil {
			return events.Append{}, "", err
		}
		list := app.Approvals(sub.Kind)
		i := slices.IndexFunc(list, func(s projections.AppScope) bool { return s.Scope == sub.Name })
		if i < 0 {
			return events.Append{}, "", httpapi.Conflict(notRequested(sub))
		}
		grant := list[i]
		var ev events.Payload
		switch req.Decision {
		case "approve":
			ev, err = a.approve(ctx, r, p, app, grant, sub, req.Reason)
			if u, ok := err.(unchanged); ok {
				return events.Append{}, id, u
			}
			if err != nil {
				return events.Append{}, "", err
			}
		case "reject":
			if grant.Status != events.GrantPending {
				return events.Append{}, "", httpapi.Conflict(fmt.Sprintf("%q is %s, not pending; revoke withdraws an approved one", sub.Name, grant.Status))
			}
			ev = decisionPayload(req.Decision, sub, req.Reason, 0, 0)
		case "revoke":
			if grant.Status != events.GrantApproved {
				return events.Append{}, "", httpapi.Conflict(fmt.Sprintf("%q is %s, not approved", sub.Name, grant.Status))
			}
			ev = decisionPayload(req.Decision, sub, req.Reason, 0, 0)
		}
		return a.appAppend(p, app, ev)
	})
	if err != nil {
		return err
	}
	return Versioned(c, http.StatusOK, app.Version, toAppJSON(app))
}

// notRequested is the conflict of a decision on something the app does
// not have.
func notRequested(sub events.Subject) string {
	switch sub.Kind {
	case events.SubjectGrantType:
		return fmt.Sprintf("the app's grant_types do not include %q", sub.Name)
	case events.SubjectRedirectURI:
		return fmt.Sprintf("%q is not one of the app's redirect_uris", sub.Name)
	default:
		return fmt.Sprintf("the app has not requested %q", sub.Name)
	}
}

// approve decides one approval of grant (of what sub names) by p (API.md
// "Scope and event-type catalogs": quorum): refused when p may not
// approve it (mayApprove) or stands for an actor that approved it already
// (checkQuorum); the same actor approving again changes nothing. The
// approval that completes the quorum of a scope revoked in this very
// second waits for the next one, so tokens it lets the app mint are
// told apart from the ones the revocation killed (iat has whole seconds).
func (a *Apps) approve(ctx context.Context, r projections.Reader, p oauth.Principal, app projections.App, grant projections.AppScope, sub events.Subject, reason string) (events.Payload, error) {
	now := a.Now()
	scope := ""
	if sub.Kind == events.SubjectScope {
		scope = sub.Name
	}
	if err := mayApprove(p, app, scope, now); err != nil {
		return nil, err
	}
	switch {
	case grant.Status == events.GrantRejected:
		return nil, httpapi.Conflict(fmt.Sprintf("%q was rejected; %s", sub.Name, askAgain(sub.Kind)))
	case grant.Status == events.GrantApproved || slices.Contains(grant.Approvals, oauth.ActorOf(p).Root()):
		return nil, unchanged{app} // approving again counts once
	}
	if err := checkQuorum(ctx, r, p, grant, now, func(ctx context.Context) (map[string]string, error) {
		return a.approvedThrough(ctx, p.Tenant, app.ID, sub)
	}); err != nil {
		return nil, err
	}
	need, err := a.approvalsRequired(ctx, p.Tenant, sub)
	if err != nil {
		return nil, err
	}
	have := len(grant.Approvals) + 1
	if have < need {
		return decisionPayload("approval_added", sub, reason, have, need), nil
	}
	if err := waitPastKill(ctx, a.Now, grant.RevokedAt); err != nil {
		return nil, err
	}
	return decisionPayload("approve", sub, reason, have, need), nil
}

// approvedThrough maps each user who added an approval of sub to app
// (app.scope.approval_added) to the app their token was issued to, as of
// their last one: the app projection keeps an approval's actor, not the
// app it came through, so the app's history in the log is read.
func (a *Apps) approvedThrough(ctx context.Context, tenant, appID string, sub events.Subject) (map[string]string, error) {
	evs, err := a.Log.Read(ctx, appRef(tenant, appID))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range evs {
		if e.Type != "app.scope.approval_added" || e.Actor.Kind != events.ActorUser {
			continue
		}
		pl, err := events.Decode(e)
		if err != nil {
			return nil, err
		}
		if added, ok := pl.(*events.AppScopeApprovalAdded); ok && added.Subject() == sub {
			out[e.Actor.Root()] = e.Actor.App
		}
	}
	return out, nil
}

// askAgain says how something rejected is asked for again.
func askAgain(kind string) string {
	switch kind {
	case events.SubjectGrantType:
		return "remove it from the app's grant_types and add it again to ask anew"
	case events.SubjectRedirectURI:
		return "remove it from the app's redirect_uris and add it again to ask anew"
	default:
		return "the app must request it again"
	}
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

// approvalsRequired is the quorum of what sub names now: a scope's
// catalog entry's approvals_required (1 for built-in scopes and entries
// since deleted); for a grant type or a redirect URI, the tenant's
// approval policy of its kind (1 unless set).
func (a *Apps) approvalsRequired(ctx context.Context, tenant string, sub events.Subject) (int, error) {
	if sub.Kind != events.SubjectScope {
		pol, err := projections.GetApprovalPolicy(ctx, a.Store, tenant, sub.Kind)
		return max(pol.ApprovalsRequired, 1), err
	}
	entry, ok, err := a.Catalog.LookupScope(ctx, tenant, sub.Name)
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
