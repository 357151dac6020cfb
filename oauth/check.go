package oauth

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// Principal is who calls: the app (and tenant) behind a valid access token,
// with the scopes that token still carries.
type Principal struct {
	Tenant   string
	AppID    string
	ClientID string
	Subject  string
	// UserID is the signed-in user a user token was issued to (its sub,
	// which differs from its client_id), empty for the app's own tokens
	// (client credentials, service tokens: sub == client_id). Username is
	// that user's e-mail (RFC 7662 §2.2 "username").
	UserID   string
	Username string
	// PublicApp is true when the token's app is a public client
	// (token_endpoint_auth_method none, as the console's): holding one of
	// its tokens proves no more than its client_id does (caller).
	PublicApp bool
	// Scopes are the token's scopes that are still approved for the app:
	// a revoked scope stops working at once, even on tokens already issued.
	// A user token's are further those the user may hold now
	// (catalog.UserMayHold: a member loses platform:* at once).
	Scopes []string
	Claims AccessClaims
	// Actor is who acts: the app, the token it acts with, and, for a
	// service token, the admin behind it (AccessClaims.Act); for a user
	// token, the user, the token and the app it was issued to
	// (events.Actor.App).
	Actor events.Actor
}

// Has reports whether p may use scope.
func (p Principal) Has(scope string) bool { return slices.Contains(p.Scopes, scope) }

// errTokenInactive covers every stateful reason a well-signed token is not
// accepted: revoked, its app deactivated or deleted.
var errTokenInactive = errors.New("token is no longer active")

// TokenChecker decides whether an access token is active now: signature
// and claims (TokenVerifier), then the small projections that can kill a
// token before its expiry (revocations, app state, scope decisions).
type TokenChecker struct {
	Verifier TokenVerifier
	Store    projections.Reader
	// Console are the scopes of the console's built-in client
	// (checkConsole).
	Console []string
}

// Check returns the principal of an active token, or an error saying why
// it is not active.
//
// The principal of a token is a function of its claims and of the
// projections it reads (its app, its revocation, its user), not of the
// time (expiry is the verifier's, checked on every call). When the
// verifier caches verified tokens and the store counts its changes per
// kind (projections.ChangeCounter: the memory store), the principal is
// kept with the change counts of the kinds it was read from, and given
// again while none of them has moved: a revocation, a scope decision, an
// app or user change is a commit of one of those kinds, which makes the
// next call read everything again, so it counts at once as before.
func (tc *TokenChecker) Check(ctx context.Context, token string) (Principal, error) {
	var (
		c    AccessClaims
		slot *checkedSlot
		err  error
	)
	if av, ok := tc.Verifier.(*accessVerifier); ok {
		c, slot, err = av.verifySlot(token)
	} else {
		c, err = tc.Verifier.VerifyAccessToken(token)
	}
	if err != nil {
		return Principal{}, err
	}
	if slot == nil {
		return tc.check(ctx, c)
	}
	cc, ok := tc.Store.(projections.ChangeCounter)
	if !ok {
		return tc.check(ctx, c)
	}
	if cp := slot.p.Load(); cp != nil && cp.stamps.Current(cc) {
		return cp.p, nil
	}
	// A miss only: the stamping reader escapes to the heap.
	sr, _ := projections.Stamping(tc.Store)
	stamped := *tc
	stamped.Store = sr
	p, err := stamped.check(ctx, c)
	if err == nil {
		// Shared by the calls that take it from the cache: appending to
		// its scopes must not write into the cached array.
		p.Scopes = slices.Clip(p.Scopes)
		slot.p.Store(&checkedPrincipal{p: p, stamps: sr.Stamps})
	}
	return p, err
}

// checkedSlot holds the last principal a token was checked to (in the
// verifier's cache entry of the token).
type checkedSlot struct {
	p atomic.Pointer[checkedPrincipal]
}

// checkedPrincipal is a token's principal and the change counts of the
// kinds it was read from.
type checkedPrincipal struct {
	p      Principal
	stamps projections.Stamps
}

// check is Check once the token's signature and claims are verified.
func (tc *TokenChecker) check(ctx context.Context, c AccessClaims) (Principal, error) {
	if tenant, ok := ConsoleTenant(c.ClientID); ok {
		return tc.checkConsole(ctx, c, tenant)
	}
	app, err := projections.AppByClientID(ctx, tc.Store, c.ClientID)
	if errors.Is(err, projections.ErrNotFound) {
		return Principal{}, errTokenInactive
	}
	if err != nil {
		return Principal{}, err
	}
	if !app.Active || app.Tenant != c.Tenant {
		return Principal{}, errTokenInactive
	}
	if app.IssuedBeforeKill(c.IssuedAt) {
		return Principal{}, errTokenInactive
	}
	revoked, err := projections.IsRevoked(ctx, tc.Store, app.ID, c.JTI)
	if err != nil {
		return Principal{}, err
	}
	if revoked {
		return Principal{}, errTokenInactive
	}
	p := Principal{
		Tenant:    c.Tenant,
		AppID:     app.ID,
		ClientID:  c.ClientID,
		Subject:   c.Subject,
		PublicApp: app.TokenEndpointAuthMethod == "none",
		Scopes:    stillApproved(c.Scopes(), c.IssuedAt, app),
		Claims:    c,
		Actor:     events.Actor{Kind: events.ActorApp, ID: app.ID, Via: c.JTI, OnBehalfOf: c.Act.actor()},
	}
	if c.Subject != c.ClientID {
		if !app.UserTokenLive(c.IssuedAt) {
			// The app's authorization_code grant was revoked (or taken
			// out of its grant types) since: its people's tokens die.
			return Principal{}, errTokenInactive
		}
		return tc.checkUser(ctx, c, p)
	}
	return p, nil
}

// checkUser finishes the check of a user token (API.md "Users and
// sign-in": sub is the user's id, client_id the app's, so sub !=
// client_id): the user exists in the token's tenant, is not disabled, and
// was not disabled since the token was issued (a token issued in the
// second of a disabling counts as before it, as for apps: a re-enabled
// user's old tokens stay dead); its scopes are those the user may still
// hold. The actor is the user, with the token and the app.
func (tc *TokenChecker) checkUser(ctx context.Context, c AccessClaims, p Principal) (Principal, error) {
	u, err := projections.GetUser(ctx, tc.Store, c.Tenant, c.Subject)
	if errors.Is(err, projections.ErrNotFound) {
		return Principal{}, errTokenInactive
	}
	if err != nil {
		return Principal{}, err
	}
	if u.Disabled || (u.DisabledAt != nil && c.IssuedAt <= u.DisabledAt.Unix()) {
		return Principal{}, errTokenInactive
	}
	p.Scopes = slices.DeleteFunc(p.Scopes, func(s string) bool { return !catalog.UserMayHold(u.Roles, s) })
	p.UserID, p.Username = u.ID, u.Email
	p.Actor = events.Actor{Kind: events.ActorUser, ID: u.ID, Via: c.JTI, App: p.AppID}
	return p, nil
}

// stillApproved keeps the scopes of want that app has approved now and
// whose approval the token, issued at iat, does not predate a revocation
// of: a revoked scope stays dead on old tokens even once approved again
// (issue 12 point 6).
func stillApproved(want []string, iat int64, app projections.App) []string {
	out := make([]string, 0, len(want))
	for _, s := range want {
		if app.ScopeGranted(s, iat) {
			out = append(out, s)
		}
	}
	return out
}

// ActorOf is the audit actor of a principal's commands: the app, the
// token it acted with and the admins behind a service token.
func ActorOf(p Principal) events.Actor {
	if p.Actor.ID != "" {
		return p.Actor
	}
	return events.Actor{Kind: events.ActorApp, ID: p.AppID}
}

// ActClaimOf is the act claim (RFC 8693 §4.1) of a service token p mints:
// p's app, over whatever admin chain p's own token carries.
func ActClaimOf(p Principal) *ActClaim {
	return &ActClaim{Subject: p.ClientID, AppID: p.AppID, Act: p.Claims.Act}
}
