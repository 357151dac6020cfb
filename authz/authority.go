package authz

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// Authority never grows by indirection (API.md "Authentication of the
// platform API", DESIGN.md invariant 7): no chain of calls hands a caller a
// credential or a token carrying a scope its own token does not carry, and
// no approval rule is bypassed. Every operation that creates, changes or
// hands out a credential asks one of the checks below, and nothing else
// decides it:
//
//   - mayManage: minting or revoking a service token of an app, rotating
//     or revoking its secrets, changing it (PATCH: its
//     token_endpoint_auth_method, jwks, redirect_uris, active, …) or
//     deleting it;
//   - mayHandOut: creating a tenant, whose admin app's secret the caller
//     is handed;
//   - mayApprove and quorumIdentities: scope decisions.
//
// Creating an app and asking for scopes hand out nothing the catalog's
// rules do not already give anyone: requested scopes stay pending until
// approved (a catalog entry with requires_approval false is approved for
// any app that asks, by the catalog's own rule).

// permManage is the scope every management operation needs besides the
// target's scopes.
const permManage = "platform:apps:write"

// mayManage decides whether p may create, change or hand out a credential
// of target: p needs platform:apps:write and every scope approved for
// target; an app holding a system:* scope (the bootstrap admin) is
// managed by itself alone. The answer is 403 forbidden naming what p
// lacks.
func mayManage(p oauth.Principal, target projections.App) error {
	if !p.Has(permManage) {
		return httpapi.InsufficientScope(permManage)
	}
	if holdsReserved(target) && p.AppID != target.ID {
		return httpapi.Forbidden("the bootstrap admin app is managed by itself alone")
	}
	if missing := lacking(p, approvedScopes(target)); len(missing) > 0 {
		return httpapi.Forbidden(fmt.Sprintf("managing this app needs every scope approved for it; the caller's token lacks %s", quoteAll(missing)))
	}
	return nil
}

// mayHandOut decides whether p may be handed a new credential carrying
// scopes: only when its own token carries every one of them.
func mayHandOut(p oauth.Principal, scopes []string) error {
	if missing := lacking(p, scopes); len(missing) > 0 {
		return httpapi.Forbidden(fmt.Sprintf("the credential this creates carries scopes the caller's token lacks: %s", quoteAll(missing)))
	}
	return nil
}

// mayApprove decides whether p may approve scope for target. An app
// never approves its own requests, nor through a service token it minted
// for another app (the app is in p's actor chain), nor through a user's
// token issued to it. A built-in scope (the
// platform's own authority) is approved only by a caller holding it when
// the caller holds a credential of target (created it, rotated its
// secret in, or minted the token it acts with): approving would hand it
// that scope. Catalog scopes are the approvers' to grant; a tenant that
// wants no single admin to grant one sets approvals_required ≥ 2, which
// quorumIdentities keeps honest.
func mayApprove(p oauth.Principal, target projections.App, scope string, now time.Time) error {
	chain := oauth.ActorOf(p).Chain()
	if slices.Contains(chain, target.ID) || p.AppID == target.ID {
		return httpapi.Forbidden("an app cannot approve scopes for itself, nor a user through it")
	}
	if _, builtin := catalog.BuiltinScope(scope); !builtin || p.Has(scope) {
		return nil
	}
	if overlaps(chain, target.Holders(now)) {
		return httpapi.Forbidden(fmt.Sprintf("the caller holds credentials of this app, so approving %q would hand it a scope its token lacks", scope))
	}
	return nil
}

// quorumIdentities are the actors an approval by p stands for: every
// actor of its chain (the app, the admins behind a service token) and
// whoever holds a credential of p's app. Two approvals of one scope
// count as distinct only when their identities do not meet (API.md
// "approvals_required: N distinct admin actors"). A signed-in user
// stands for themself and for the app their token was issued to, which
// holds the token and sends what it likes with it: an app that approved
// never adds an approval through a person signed in to it. An earlier
// approval by a user stands for the user alone (approverIdentities), so
// two admins signed in through one app are two actors, and the
// console's principal names no app.
func quorumIdentities(ctx context.Context, r projections.Reader, p oauth.Principal, now time.Time) ([]string, error) {
	ids := oauth.ActorOf(p).Chain()
	if p.UserID != "" {
		if p.AppID != "" {
			ids = appendNew(ids, p.AppID)
		}
		return ids, nil
	}
	app, err := projections.GetApp(ctx, r, p.Tenant, p.AppID)
	if err != nil {
		return nil, err
	}
	return appendNew(ids, app.Holders(now)...), nil
}

// approverIdentities are the identities of an earlier approval recorded
// as id (the root of its actor): id and whoever holds a credential of
// the app id names, if it still exists.
func approverIdentities(ctx context.Context, r projections.Reader, tenant, id string, now time.Time) ([]string, error) {
	app, err := projections.GetApp(ctx, r, tenant, id)
	if errors.Is(err, projections.ErrNotFound) {
		return []string{id}, nil
	}
	if err != nil {
		return nil, err
	}
	return appendNew([]string{id}, app.Holders(now)...), nil
}

// checkQuorum refuses an approval by p of a grant whose earlier approvals
// stand for one of the same actors. An earlier approval by a user stands
// for the user alone against another user's, and also for the app their
// token was issued to against an app's (through: the users' apps, read
// when an app approves).
func checkQuorum(ctx context.Context, r projections.Reader, p oauth.Principal, grant projections.AppScope, now time.Time, through func(context.Context) (map[string]string, error)) error {
	if len(grant.Approvals) == 0 {
		return nil
	}
	mine, err := quorumIdentities(ctx, r, p, now)
	if err != nil {
		return err
	}
	var apps map[string]string
	if p.UserID == "" && through != nil {
		if apps, err = through(ctx); err != nil {
			return err
		}
	}
	for _, a := range grant.Approvals {
		theirs, err := approverIdentities(ctx, r, p.Tenant, a, now)
		if err != nil {
			return err
		}
		if app := apps[a]; app != "" {
			theirs = appendNew(theirs, app)
		}
		if overlaps(mine, theirs) {
			return httpapi.Forbidden(fmt.Sprintf("%q was approved already by %s, which this caller acts for or holds credentials of: each admin counts once", grant.Scope, a))
		}
	}
	return nil
}

// approvedScopes lists the scopes approved for app.
func approvedScopes(app projections.App) []string {
	var out []string
	for _, s := range app.Scopes {
		if s.Status == events.GrantApproved {
			out = append(out, s.Scope)
		}
	}
	return out
}

// holdsReserved reports whether app has a system:* scope approved: only
// the bootstrap admin does.
func holdsReserved(app projections.App) bool {
	return slices.ContainsFunc(approvedScopes(app), catalog.Reserved)
}

// lacking lists the scopes of want that p's token does not carry.
func lacking(p oauth.Principal, want []string) []string {
	var out []string
	for _, s := range want {
		if !p.Has(s) {
			out = append(out, s)
		}
	}
	return out
}

func overlaps(a, b []string) bool {
	return slices.ContainsFunc(a, func(x string) bool { return slices.Contains(b, x) })
}

func appendNew(dst []string, xs ...string) []string {
	for _, x := range xs {
		if !slices.Contains(dst, x) {
			dst = append(dst, x)
		}
	}
	return dst
}

func quoteAll(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}
