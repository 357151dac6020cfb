package projections_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

func TestAppUpdated(t *testing.T) {
	a := newApplier(t)
	a.apply(appCreated("t1", "app_1", "one", "cid_1", 1))
	before, _ := projections.GetApp(t.Context(), a.s, "t1", "app_1")
	inactive, ttl, jwks, method := false, 600, json.RawMessage(`{"keys":[]}`), "private_key_jwt"
	uris := []string{"https://x.example/cb"}
	a.apply(ev("t1", events.AggApp, "app_1", 50, &events.AppUpdated{Active: &inactive, AccessTokenTTLSeconds: &ttl, JWKS: &jwks, RedirectURIs: &uris, TokenEndpointAuthMethod: &method}))
	want := before
	want.Active, want.AccessTokenTTLSeconds, want.JWKS, want.RedirectURIs = false, 600, jwks, uris
	want.TokenEndpointAuthMethod = method
	want.RedirectURIApprovals = []projections.AppScope{{Scope: uris[0], Status: events.GrantPending}} // a URI added starts pending
	want.Version, want.LastSeq, want.UpdatedAt = 2, 2, t0.Add(50*time.Millisecond)
	deactivated := t0.Add(50 * time.Millisecond) // the kill switch's time (issue 12 point 6)
	want.DeactivatedAt = &deactivated
	got, err := projections.GetApp(t.Context(), a.s, "t1", "app_1")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("after update: %+v, %v\nwant %+v", got, err, want)
	}
	a.apply(appRenamed("t1", "app_1", "Renamed", 60))
	if got, _ := projections.AppByName(t.Context(), a.s, "t1", "renamed"); got.ID != "app_1" || got.Version != 3 || got.LastSeq != 3 {
		t.Fatalf("after rename: %+v", got)
	}
	_, err = projections.AppByName(t.Context(), a.s, "t1", "one")
	wantIs(t, err, projections.ErrNotFound) // the old name is free
	if got, _ := projections.AppByClientID(t.Context(), a.s, "cid_1"); got.Name != "Renamed" {
		t.Fatalf("client_id finds %+v", got)
	}
}

// TestAppGrantApprovals: the authorization_code grant and each redirect
// URI start pending, are decided by the scope decisions' events with
// grant_type or redirect_uri, keep their status across an app.updated
// that keeps them, and go when one removes them.
func TestAppGrantApprovals(t *testing.T) {
	a := newApplier(t)
	a.apply(ev("t1", events.AggApp, "app_1", 1, &events.AppCreated{AppSettings: events.AppSettings{ClientID: "cid_1", Name: "one", Active: true,
		GrantTypes: []string{"client_credentials", "authorization_code", "refresh_token"}, RedirectURIs: []string{"https://a.example/cb", "https://b.example/cb"}}}))
	get := func() projections.App {
		t.Helper()
		app, err := projections.GetApp(t.Context(), a.s, "t1", "app_1")
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	app := get()
	if len(app.Grants) != 1 || app.Grants[0].Scope != "authorization_code" || app.Grants[0].Status != events.GrantPending || app.GrantEffective("authorization_code") || app.GrantEffective("refresh_token") || !app.GrantEffective("client_credentials") {
		t.Fatalf("new app: %+v", app.Grants)
	}
	a.apply(ev("t1", events.AggApp, "app_1", 2, &events.AppScopeApproved{GrantType: "authorization_code", Approvals: 1, ApprovalsRequired: 1}),
		ev("t1", events.AggApp, "app_1", 3, &events.AppScopeApprovalAdded{RedirectURI: "https://a.example/cb", Approvals: 1, ApprovalsRequired: 2}),
		ev("t1", events.AggApp, "app_1", 4, &events.AppScopeRejected{RedirectURI: "https://b.example/cb", Reason: "no"}))
	app = get()
	if !app.GrantEffective("authorization_code") || !app.GrantEffective("refresh_token") || app.RedirectURIApproved("https://a.example/cb") ||
		len(app.RedirectURIApprovals[0].Approvals) != 1 || app.RedirectURIApprovals[1].Status != events.GrantRejected {
		t.Fatalf("after the decisions: %+v %+v", app.Grants, app.RedirectURIApprovals)
	}
	uris := []string{"https://b.example/cb", "https://c.example/cb"}
	a.apply(ev("t1", events.AggApp, "app_1", 5, &events.AppUpdated{RedirectURIs: &uris}))
	app = get()
	want := []projections.AppScope{app.RedirectURIApprovals[0], {Scope: "https://c.example/cb", Status: events.GrantPending}}
	if len(app.RedirectURIApprovals) != 2 || app.RedirectURIApprovals[0].Scope != "https://b.example/cb" || app.RedirectURIApprovals[0].Status != events.GrantRejected || !reflect.DeepEqual(app.RedirectURIApprovals[1], want[1]) {
		t.Fatalf("after the update: %+v", app.RedirectURIApprovals)
	}
	if !app.GrantEffective("authorization_code") {
		t.Fatal("an update of the URIs changed the grant")
	}
	if a.try(ev("t1", events.AggApp, "app_1", 6, &events.AppScopeApproved{RedirectURI: "https://a.example/cb", Approvals: 1, ApprovalsRequired: 1})) == nil {
		t.Fatal("a decision on a redirect URI the app no longer has applied")
	}
}

func TestAppUpdatedErrors(t *testing.T) {
	a := newApplier(t)
	a.apply(appCreated("t1", "app_1", "one", "cid_1", 1), appCreated("t1", "app_2", "two", "cid_2", 2))
	wantIs(t, a.try(appRenamed("t1", "app_missing", "x", 3)), projections.ErrNotFound)
	if a.try(appRenamed("t2", "app_1", "x", 3)) == nil {
		t.Fatal("an app.updated of another tenant applied")
	}
	// Renaming onto a taken name (a race the log let through) keeps the
	// name with its holder.
	a.apply(appRenamed("t1", "app_2", "ONE", 4))
	if got, _ := projections.AppByName(t.Context(), a.s, "t1", "one"); got.ID != "app_1" {
		t.Fatalf("name one went to %q", got.ID)
	}
	if got, _ := projections.GetApp(t.Context(), a.s, "t1", "app_2"); got.Name != "ONE" || got.Version != 2 {
		t.Fatalf("renamed app: %+v", got)
	}
}

func TestAppDeleted(t *testing.T) {
	a := newApplier(t)
	a.apply(appCreated("t1", "app_1", "one", "cid_1", 1))
	a.apply(appDeleted("t1", "app_1", "cid_1", 2))
	_, err := projections.GetApp(t.Context(), a.s, "t1", "app_1")
	wantIs(t, err, projections.ErrNotFound)
	_, err = projections.AppByClientID(t.Context(), a.s, "cid_1")
	wantIs(t, err, projections.ErrNotFound)
	if apps, _, _ := projections.ListApps(t.Context(), a.s, "t1", projections.Page{Limit: 10}); len(apps) != 0 {
		t.Fatalf("a deleted app is listed: %+v", apps)
	}
	a.apply(appCreated("t1", "app_2", "One", "cid_2", 3)) // the name is free again
	if got, _ := projections.AppByName(t.Context(), a.s, "t1", "one"); got.ID != "app_2" {
		t.Fatalf("name one is held by %q", got.ID)
	}
	wantIs(t, a.try(appDeleted("t1", "app_1", "cid_1", 4)), projections.ErrNotFound)
	if a.try(appDeleted("t9", "app_2", "cid_2", 5)) == nil {
		t.Fatal("an app.deleted of another tenant applied")
	}
}

// TestListApps: oldest first, even within one second ("…05Z" before
// "…05.1Z", which RFC 3339 text with trimmed zeros gets wrong), ties by
// id, one tenant only, across pages.
func TestListApps(t *testing.T) {
	a := newApplier(t)
	a.apply(
		appCreated("t1", "app_c", "c", "cid_c", 100),
		appCreated("t1", "app_a", "a", "cid_a", 0),
		appCreated("t2", "app_x", "x", "cid_x", 0),
		appCreated("t1", "app_b", "b", "cid_b", 100),
		appCreated("t1", "app_d", "d", "cid_d", 1000),
	)
	var ids []string
	for p := (projections.Page{Limit: 3}); ; {
		apps, next, err := projections.ListApps(t.Context(), a.s, "t1", p)
		if err != nil {
			t.Fatal(err)
		}
		for _, app := range apps {
			ids = append(ids, app.ID)
		}
		if next == "" {
			break
		}
		p.After = next
	}
	if want := []string{"app_a", "app_b", "app_c", "app_d"}; !slices.Equal(ids, want) {
		t.Fatalf("ListApps = %v, want %v", ids, want)
	}
	_, _, err := projections.ListApps(t.Context(), a.s, "t1", projections.Page{Limit: 3, After: "bogus"})
	wantIs(t, err, projections.ErrInvalid)
}

func TestUnknownTypeIsSkipped(t *testing.T) {
	a := newApplier(t)
	a.apply(futureEvent("t1", 1))
	if docs := a.s.Docs(); len(docs) != 0 {
		t.Fatalf("an unknown event wrote %v", docs)
	}
	cp, _ := a.s.Checkpoint(t.Context())
	if cp[events.Control] != 1 {
		t.Fatalf("checkpoint = %v", cp)
	}
}

// TestAppCodeFlowKillSwitch: people's tokens of an app die when its
// authorization_code grant is revoked, or taken out of its grant types
// while approved, and stay dead once it is asked for and approved again;
// tokens issued after that live.
func TestAppCodeFlowKillSwitch(t *testing.T) {
	a := newApplier(t)
	a.apply(ev("t1", events.AggApp, "app_1", 1, &events.AppCreated{AppSettings: events.AppSettings{ClientID: "cid_1", Name: "one", Active: true,
		GrantTypes: []string{"authorization_code", "refresh_token"}}}),
		ev("t1", events.AggApp, "app_1", 2, &events.AppScopeApproved{GrantType: "authorization_code", Approvals: 1, ApprovalsRequired: 1}))
	get := func() projections.App {
		t.Helper()
		app, err := projections.GetApp(t.Context(), a.s, "t1", "app_1")
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	before := t0.Unix() - 10
	if !get().UserTokenLive(before) {
		t.Fatal("a person's token is dead before any revocation")
	}
	// Revoked: dead; approved again (after being asked anew), still dead.
	a.apply(ev("t1", events.AggApp, "app_1", 3000, &events.AppScopeRevoked{GrantType: "authorization_code", Reason: "x"}))
	if get().UserTokenLive(before) {
		t.Fatal("a person's token survives the revocation of the authorization_code grant")
	}
	cc := []string{"refresh_token"}
	both := []string{"authorization_code", "refresh_token"}
	a.apply(ev("t1", events.AggApp, "app_1", 4000, &events.AppUpdated{GrantTypes: &cc}),
		ev("t1", events.AggApp, "app_1", 5000, &events.AppUpdated{GrantTypes: &both}),
		ev("t1", events.AggApp, "app_1", 6000, &events.AppScopeApproved{GrantType: "authorization_code", Approvals: 1, ApprovalsRequired: 1}))
	if get().UserTokenLive(before) {
		t.Fatal("approved again, the grant revives a person's old token")
	}
	// Taken out of grant_types while approved: the same kill switch.
	later := t0.Unix() + 7
	if !get().UserTokenLive(later) {
		t.Fatal("a token issued after the approval is dead")
	}
	a.apply(ev("t1", events.AggApp, "app_1", 9000, &events.AppUpdated{GrantTypes: &cc}))
	if get().UserTokenLive(later) {
		t.Fatal("a person's token survives the grant's removal from grant_types")
	}
}
