package oauth

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
	"github.com/gatehouse/gatehouse/projections"
)

// userTokenServer is fuzzOAuth's server with a real mints committer and a
// helper that applies events to its store.
func userTokenServer(t *testing.T, now time.Time) (*Server, func(ref events.Ref, at time.Time, p events.Payload)) {
	t.Helper()
	o, _ := fuzzOAuth(t, now)
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	mints := events.NewGroupCommitter(log, 16, 1)
	if err := mints.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mints.Close() })
	o.cfg.Log, o.minter.group = log, mints
	seq := uint64(1) // fuzzOAuth applied app.created at 1
	apply := func(ref events.Ref, at time.Time, p events.Payload) {
		t.Helper()
		seq++
		ev := events.MustNew(ref, events.Actor{Kind: events.ActorSystem, ID: "test"}, at, p)
		ev.Stream, ev.Seq = events.Control, seq
		if err := o.cfg.Store.(projections.Store).Update(context.Background(), ev.Stream, ev.Seq, func(tx projections.Tx) error { return projections.Apply(tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	return o, apply
}

// TestUserTokenChecked: a token minted for a signed-in user (sub = the
// user id, client_id = the app's) is active while the user is; disabling
// kills it, and re-enabling does not bring it back (a token minted after
// does work); deleting kills it; a member's token loses platform:* scopes
// at once, an admin's keeps them; the principal names the user, the
// token and the app.
func TestUserTokenChecked(t *testing.T) {
	ctx := t.Context()
	now := time.Now().Truncate(time.Second)
	o, apply := userTokenServer(t, now)
	appRef := events.Ref{Tenant: "default", Type: events.AggApp, ID: "app_fuzz"}
	apply(appRef, now, &events.AppScopeRequested{Scopes: []events.ScopeGrant{{Scope: "cases:read", Status: events.GrantApproved}}})
	userRef := events.Ref{Tenant: "default", Type: events.AggUser, ID: "usr_1"}
	apply(userRef, now.Add(-time.Minute), &events.UserCreated{Email: "ada@example.com", Name: "Ada", Roles: []string{events.RoleMember}})
	app, err := projections.GetApp(ctx, o.cfg.Store, "default", "app_fuzz")
	if err != nil {
		t.Fatal(err)
	}
	mint := func(at time.Time, user string) string {
		t.Helper()
		o.minter.now = func() time.Time { return at }
		tok, _, err := o.MintUserToken(ctx, app, user, "authorization_code", []string{"platform:apps:read", "cases:read"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	check := func(tok string) (Principal, bool) {
		t.Helper()
		p, err := o.checker.Check(ctx, tok)
		if err != nil && !isInactive(err) {
			t.Fatalf("check: %v", err)
		}
		return p, err == nil
	}

	tok := mint(now, "usr_1")
	p, ok := check(tok)
	if !ok {
		t.Fatal("a member's fresh token is inactive")
	}
	if p.UserID != "usr_1" || p.Username != "ada@example.com" || p.Subject != "usr_1" || p.ClientID != "cl_fuzz" || p.AppID != "app_fuzz" {
		t.Fatalf("principal %+v", p)
	}
	wantActor := events.Actor{Kind: events.ActorUser, ID: "usr_1", Via: p.Claims.JTI, App: "app_fuzz"}
	if p.Actor.Kind != wantActor.Kind || p.Actor.ID != wantActor.ID || p.Actor.Via != wantActor.Via || p.Actor.App != wantActor.App || p.Actor.OnBehalfOf != nil {
		t.Fatalf("actor %+v, want %+v", p.Actor, wantActor)
	}
	if !slices.Equal(p.Scopes, []string{"cases:read"}) {
		t.Fatalf("a member's scopes %v, want only cases:read (no platform:*)", p.Scopes)
	}

	// The admin role gives platform:* back, on the same token, at once;
	// withdrawing it takes them away.
	admin := []string{events.RoleAdmin}
	apply(userRef, now, &events.UserUpdated{Roles: &admin})
	if p, _ := check(tok); !slices.Equal(p.Scopes, []string{"platform:apps:read", "cases:read"}) {
		t.Fatalf("an admin's scopes %v", p.Scopes)
	}
	member := []string{events.RoleMember}
	apply(userRef, now, &events.UserUpdated{Roles: &member})
	if p, _ := check(tok); slices.Contains(p.Scopes, "platform:apps:read") {
		t.Fatalf("a member again keeps %v", p.Scopes)
	}

	// Disabled: dead. Enabled again: still dead; a token minted after
	// works.
	apply(userRef, now.Add(time.Second), &events.UserDisabled{})
	if _, ok := check(tok); ok {
		t.Fatal("a disabled user's token is active")
	}
	if _, ok := check(mint(now.Add(time.Second), "usr_1")); ok {
		t.Fatal("a token minted in the second of the disabling is active")
	}
	apply(userRef, now.Add(2*time.Second), &events.UserEnabled{})
	if _, ok := check(tok); ok {
		t.Fatal("a re-enabled user's old token is active again")
	}
	fresh := mint(now.Add(2*time.Second), "usr_1")
	if _, ok := check(fresh); !ok {
		t.Fatal("a token minted after re-enabling is inactive")
	}

	// Deleted: dead. Unknown user, or a user of another tenant: dead.
	apply(userRef, now.Add(3*time.Second), &events.UserDeleted{Email: "ada@example.com"})
	if _, ok := check(fresh); ok {
		t.Fatal("a deleted user's token is active")
	}
	apply(events.Ref{Tenant: "other", Type: events.AggUser, ID: "usr_2"}, now, &events.UserCreated{Email: "bob@example.com", Name: "Bob", Roles: []string{events.RoleAdmin}})
	if _, ok := check(mint(now.Add(3*time.Second), "usr_2")); ok {
		t.Fatal("a token naming another tenant's user is active")
	}

	// The app's own tokens are untouched: sub == client_id.
	svc, _, err := o.MintServiceToken(ctx, app, []string{"platform:apps:read"}, time.Minute, Principal{Tenant: "default", AppID: "app_admin", ClientID: "cl_admin"})
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := check(svc); !ok || p.UserID != "" || !slices.Equal(p.Scopes, []string{"platform:apps:read"}) {
		t.Fatalf("a service token: active %v, %+v", ok, p)
	}
}
