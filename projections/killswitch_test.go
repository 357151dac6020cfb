package projections_test

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// TestKillSwitchFromTheLog (issue 12 point 6): the projection records when
// the app was last deactivated and when a scope was last revoked, from the
// events' times, and keeps them through reactivation and a new request and
// approval of the scope, so tokens issued before stay dead.
func TestKillSwitchFromTheLog(t *testing.T) {
	a := newApplier(t)
	a.apply(appCreated("t1", "app_1", "one", "cid_1", 1))
	off, on := false, true
	a.apply(ev("t1", events.AggApp, "app_1", 2000, &events.AppUpdated{Active: &off}))
	a.apply(ev("t1", events.AggApp, "app_1", 2500, &events.AppUpdated{Active: &off})) // already inactive: the kill stays at 2 s
	a.apply(ev("t1", events.AggApp, "app_1", 3000, &events.AppUpdated{Active: &on}))
	a.apply(ev("t1", events.AggApp, "app_1", 4000, &events.AppScopeRevoked{Scope: "a:read"}))
	a.apply(ev("t1", events.AggApp, "app_1", 5000, &events.AppScopeRequested{Scopes: []events.ScopeGrant{{Scope: "a:read", Status: "pending"}}}))
	a.apply(ev("t1", events.AggApp, "app_1", 6000, &events.AppScopeApproved{Scope: "a:read", Approvals: 1, ApprovalsRequired: 1}))
	app, err := projections.GetApp(t.Context(), a.s, "t1", "app_1")
	if err != nil {
		t.Fatal(err)
	}
	sec := func(ms int) int64 { return t0.Add(time.Duration(ms) * time.Millisecond).Unix() }
	if !app.Active || app.DeactivatedAt == nil || !app.DeactivatedAt.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("active %v, deactivated at %v, want active with the kill at t0+2s", app.Active, app.DeactivatedAt)
	}
	if !app.IssuedBeforeKill(sec(1000)) || !app.IssuedBeforeKill(sec(2000)) || app.IssuedBeforeKill(sec(3000)) {
		t.Error("IssuedBeforeKill: a token of t0+1s or t0+2s is dead, one of t0+3s lives")
	}
	if app.ScopeGranted("a:read", sec(4000)) || !app.ScopeGranted("a:read", sec(6000)) || !app.ScopeApproved("a:read") {
		t.Error("ScopeGranted: the scope approved again is not given back to a token of the revocation's second, but is to later ones")
	}
	if app.ScopeGranted("b:write", sec(6000)) {
		t.Error("a pending scope is granted")
	}
}

// TestHoldersFromTheLog: whoever was handed a live secret of the app
// (the root of the handing actor's chain) holds a credential of it; a
// rotation without grace ends the earlier holders' copies.
func TestHoldersFromTheLog(t *testing.T) {
	a := newApplier(t)
	a.apply(appCreated("t1", "app_1", "one", "cid_1", 1)) // by app_actor
	app, _ := projections.GetApp(t.Context(), a.s, "t1", "app_1")
	if got := app.Holders(t0.Add(time.Second)); !equal(got, "app_1", "app_actor") {
		t.Fatalf("holders after creation = %v", got)
	}
	byService := events.Actor{Kind: events.ActorApp, ID: "app_1", Via: "jti", OnBehalfOf: &events.Actor{Kind: events.ActorApp, ID: "app_admin"}}
	at := t0.Add(2 * time.Second)
	a.apply(events.MustNew(events.Ref{Tenant: "t1", Type: events.AggApp, ID: "app_1"}, byService, at,
		&events.AppSecretRotated{SecretID: "sec_2", SecretHash: "h2", PreviousExpiresAt: at}))
	app, _ = projections.GetApp(t.Context(), a.s, "t1", "app_1")
	if got := app.Holders(at); !equal(got, "app_1", "app_admin") {
		t.Fatalf("holders after a rotation without grace through the admin's service token = %v, want the app and the admin", got)
	}
}

func equal(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}
