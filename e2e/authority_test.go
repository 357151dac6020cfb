package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// Issue 12 point 1 (API.md "Authentication of the platform API"):
// authority never grows by indirection.

// grantedApp creates an app requesting scopes, has a (which holds them)
// approve every one, and returns it with its secret.
func (a *api) grantedApp(t *testing.T, name string, scopes ...string) appView {
	t.Helper()
	app := a.createApp(map[string]any{"name": uniqueName(t, name), "requested_scopes": scopes})
	for _, s := range scopes {
		a.decide(app.ID, s, "approve", "")
	}
	return app
}

// tokenOf mints a client_credentials token of app (every approved scope).
func (a *api) tokenOf(app appView) *api { return a.as(a.mint(appCreds(app)).AccessToken) }

// serviceToken mints a service token for app as a; it must succeed.
func (a *api) serviceToken(appID string) serviceTokenView {
	a.t.Helper()
	r := a.call(http.MethodPost, "/v1/platform/apps/"+appID+"/tokens", map[string]any{})
	if r.Status != http.StatusCreated {
		a.t.Fatalf("service token for %s: %s", appID, r)
	}
	var st serviceTokenView
	r.decode(a.t, &st)
	return st
}

// getApp reads an app; it must exist.
func (a *api) getApp(id string) appView {
	a.t.Helper()
	r := a.call(http.MethodGet, "/v1/platform/apps/"+id, nil)
	if r.Status != http.StatusOK {
		a.t.Fatalf("GET app %s: %s", id, r)
	}
	var app appView
	r.decode(a.t, &app)
	return app
}

// credentialOp is one operation that creates, changes or hands out a
// credential of target; prep runs as the tenant admin first.
type credentialOp struct {
	name string
	want int
	prep func(t *testing.T, admin *api, target appView) string
	do   func(caller *api, target appView, prepared string) reply
}

var credentialOps = []credentialOp{
	{name: "mint service token", want: http.StatusCreated,
		do: func(c *api, tg appView, _ string) reply {
			return c.call(http.MethodPost, "/v1/platform/apps/"+tg.ID+"/tokens", map[string]any{})
		}},
	{name: "revoke service token", want: http.StatusNoContent,
		prep: func(t *testing.T, admin *api, tg appView) string { return admin.serviceToken(tg.ID).JTI },
		do: func(c *api, tg appView, jti string) reply {
			return c.call(http.MethodDelete, "/v1/platform/apps/"+tg.ID+"/tokens/"+jti, nil)
		}},
	{name: "rotate secret", want: http.StatusCreated,
		do: func(c *api, tg appView, _ string) reply {
			return c.call(http.MethodPost, "/v1/platform/apps/"+tg.ID+"/secrets", map[string]any{"grace_period_seconds": 0})
		}},
	{name: "revoke secret", want: http.StatusNoContent,
		prep: func(t *testing.T, admin *api, tg appView) string {
			if r := admin.call(http.MethodPost, "/v1/platform/apps/"+tg.ID+"/secrets", map[string]any{"grace_period_seconds": 3600}); r.Status != http.StatusCreated {
				t.Fatalf("rotate: %s", r)
			}
			return tg.Secrets[0].ID
		},
		do: func(c *api, tg appView, secretID string) reply {
			return c.call(http.MethodDelete, "/v1/platform/apps/"+tg.ID+"/secrets/"+secretID, nil)
		}},
	{name: "auth method", want: http.StatusOK,
		do: func(c *api, tg appView, _ string) reply {
			return c.call(http.MethodPatch, "/v1/platform/apps/"+tg.ID, map[string]any{"token_endpoint_auth_method": "client_secret_post"})
		}},
	{name: "jwks", want: http.StatusOK,
		do: func(c *api, tg appView, _ string) reply {
			return c.call(http.MethodPatch, "/v1/platform/apps/"+tg.ID, map[string]any{"jwks": publicJWKS(c.t)})
		}},
	{name: "redirect URIs", want: http.StatusOK,
		do: func(c *api, tg appView, _ string) reply {
			return c.call(http.MethodPatch, "/v1/platform/apps/"+tg.ID, map[string]any{
				"grant_types": []string{"client_credentials", "authorization_code"}, "redirect_uris": []string{"https://attacker.example/cb"}})
		}},
	{name: "deactivate", want: http.StatusOK,
		do: func(c *api, tg appView, _ string) reply {
			return c.call(http.MethodPatch, "/v1/platform/apps/"+tg.ID, map[string]any{"active": false})
		}},
	{name: "delete", want: http.StatusNoContent,
		do: func(c *api, tg appView, _ string) reply {
			return c.call(http.MethodDelete, "/v1/platform/apps/"+tg.ID, nil)
		}},
}

// targetScopes are the scopes approved for every target of the matrix.
var targetScopes = []string{"platform:apps:write", "platform:apps:read", "webhooks:read"}

// TestAuthorityMatrix: every operation that creates, changes or hands out
// an app's credential × callers holding different subsets of the target's
// scopes. Only a caller whose token carries platform:apps:write and every
// scope approved for the target may; the others get 403 forbidden and
// change nothing (the target's version stays).
func TestAuthorityMatrix(t *testing.T) {
	t.Parallel()
	s := shared(t)
	admin := freshTenant(t, s, "authority")
	writeOnly := admin.tokenOf(admin.grantedApp(t, "write-only", "platform:apps:write"))
	someApp := admin.grantedApp(t, "some", "platform:apps:write", "platform:apps:read")
	some := admin.tokenOf(someApp)
	all := admin.tokenOf(admin.grantedApp(t, "all", targetScopes...))
	// A lesser admin (some) mints a service token for an app it holds
	// every scope of: the token has platform:apps:write only.
	minion := admin.grantedApp(t, "minion", "platform:apps:write")
	lesserST := admin.as(some.serviceToken(minion.ID).AccessToken)

	fixed := func(c *api) func(*api, appView) *api { return func(a *api, _ appView) *api { return c.in(a.t) } }
	callers := []struct {
		name   string
		caller func(a *api, target appView) *api
		ok     bool
	}{
		{"only platform:apps:write", fixed(writeOnly), false},
		{"apps:write and some of the target's scopes", fixed(some), false},
		{"every scope of the target", fixed(all), true},
		{"the target itself", func(a *api, tg appView) *api { return a.tokenOf(tg) }, true},
		{"service token of a lesser admin", fixed(lesserST), false},
		{"the tenant admin", fixed(admin), true},
	}
	for _, op := range credentialOps {
		for _, c := range callers {
			t.Run(op.name+"/"+c.name, func(t *testing.T) {
				a := admin.in(t)
				target := a.grantedApp(t, "target", targetScopes...)
				prepared := ""
				if op.prep != nil {
					prepared = op.prep(t, a, target)
				}
				before := a.getApp(target.ID)
				r := op.do(c.caller(a, target), target, prepared)
				if !c.ok {
					p := wantProblem(t, r, http.StatusForbidden, "forbidden")
					if p.Detail == "" {
						t.Error("the refusal says nothing")
					}
					if after := a.getApp(target.ID); after.Version != before.Version {
						t.Errorf("a refused %s changed the app: version %d → %d", op.name, before.Version, after.Version)
					}
					return
				}
				if r.Status != op.want {
					t.Fatalf("%s by %s = %s, want %d", op.name, c.name, r, op.want)
				}
				if op.name == "auth method" {
					if after := a.getApp(target.ID); after.TokenEndpointAuthMethod != "client_secret_post" || after.Version == before.Version {
						t.Errorf("after an accepted PATCH the app's auth method is %q (version %d → %d), want client_secret_post",
							after.TokenEndpointAuthMethod, before.Version, after.Version)
					}
				}
			})
		}
	}
}

// TestAuthorityKnownInstance: an app holding only platform:apps:write
// gets neither a service token of the tenant's admin app nor a secret of
// it; a tenant admin (every non-system scope) cannot manage the bootstrap
// admin app, which is managed by itself alone; creating a tenant hands out
// an admin app, so it needs every scope that app holds.
func TestAuthorityKnownInstance(t *testing.T) {
	t.Parallel()
	s := shared(t)
	boot := adminAPI(t, s)
	bootApp := boot.adminApp()
	admin := freshTenant(t, s, "known")
	tenantAdmin := admin.adminApp()
	writeOnly := admin.tokenOf(admin.grantedApp(t, "write-only", "platform:apps:write"))
	for _, r := range []reply{
		writeOnly.call(http.MethodPost, "/v1/platform/apps/"+tenantAdmin.ID+"/tokens", map[string]any{"scopes": []string{"platform:scopes:approve"}}),
		writeOnly.call(http.MethodPost, "/v1/platform/apps/"+tenantAdmin.ID+"/secrets", map[string]any{"grace_period_seconds": 0}),
	} {
		wantProblem(t, r, http.StatusForbidden, "forbidden")
	}
	if !admin.active(admin.token) {
		t.Fatal("the tenant admin's token died")
	}

	// In the default tenant: an app holding every non-system built-in
	// scope still cannot touch the bootstrap admin app.
	var nonSystem []string
	for _, sc := range builtinScopes {
		if !strings.HasPrefix(sc, "system:") {
			nonSystem = append(nonSystem, sc)
		}
	}
	deputy := boot.tokenOf(boot.grantedApp(t, "deputy", nonSystem...))
	for _, r := range []reply{
		deputy.call(http.MethodPost, "/v1/platform/apps/"+bootApp.ID+"/tokens", map[string]any{}),
		deputy.call(http.MethodPost, "/v1/platform/apps/"+bootApp.ID+"/secrets", map[string]any{"grace_period_seconds": 0}),
		deputy.call(http.MethodPatch, "/v1/platform/apps/"+bootApp.ID, map[string]any{"active": false}),
		deputy.call(http.MethodDelete, "/v1/platform/apps/"+bootApp.ID, nil),
	} {
		p := wantProblem(t, r, http.StatusForbidden, "forbidden")
		if !strings.Contains(p.Detail, "bootstrap admin") {
			t.Errorf("refusal detail %q does not name the rule", p.Detail)
		}
	}
	// The bootstrap admin manages itself: a service token of its own.
	if st := boot.serviceToken(bootApp.ID); !strings.Contains(st.Scope, "system:tenants:write") {
		t.Errorf("the bootstrap admin's own service token carries %q", st.Scope)
	}

	// A token of the bootstrap admin narrowed to system:tenants:write
	// cannot create a tenant: the tenant's admin app would hold
	// platform:* scopes the token lacks.
	narrow := boot.as(boot.mint(adminCreds(), "system:tenants:write").AccessToken)
	p := wantProblem(t, narrow.call(http.MethodPost, "/v1/tenants", map[string]any{"name": uniqueName(t, "narrow")}), http.StatusForbidden, "forbidden")
	if !strings.Contains(p.Detail, "platform:scopes:approve") {
		t.Errorf("refusal detail %q does not name what the token lacks", p.Detail)
	}
}

// TestAuthorityScopeRequestsAndDecisions: asking for scopes hands out
// nothing (they stay pending); an app never approves its own requests,
// not even through a service token it minted for another app; a caller
// holding a credential of the app (it created it) approves a built-in
// scope only if it holds that scope itself.
func TestAuthorityScopeRequestsAndDecisions(t *testing.T) {
	t.Parallel()
	s := shared(t)
	admin := freshTenant(t, s, "decisions")
	target := admin.grantedApp(t, "target", "platform:apps:read")
	writeOnly := admin.tokenOf(admin.grantedApp(t, "write-only", "platform:apps:write"))
	bare := admin.tokenOf(admin.createApp(map[string]any{"name": uniqueName(t, "bare")}))

	requests := []struct {
		name   string
		caller *api
		status int
		code   string
	}{
		{"apps:write for another app", writeOnly, http.StatusOK, ""},
		{"the app itself", admin.tokenOf(target), http.StatusOK, ""},
		{"neither", bare, http.StatusForbidden, "insufficient_scope"},
	}
	for _, rq := range requests {
		t.Run("request/"+rq.name, func(t *testing.T) {
			r := rq.caller.in(t).call(http.MethodPost, "/v1/platform/apps/"+target.ID+"/scope-requests", map[string]any{"scopes": []string{"platform:audit:read"}})
			if rq.code != "" {
				wantProblem(t, r, rq.status, rq.code)
				return
			}
			if r.Status != rq.status || appScopes(t, r)["platform:audit:read"].Status != "pending" {
				t.Fatalf("scope request = %s, want %d with the scope pending", r, rq.status)
			}
		})
	}

	// creator holds platform:scopes:approve and platform:apps:write, not
	// events:publish; it creates (so holds a secret of) its own app.
	creatorApp := admin.grantedApp(t, "creator", "platform:apps:write", "platform:scopes:approve")
	creator := admin.tokenOf(creatorApp)
	strongApp := admin.grantedApp(t, "strong", "platform:apps:write", "platform:scopes:approve", "events:publish")
	strong := admin.tokenOf(strongApp)
	reviewer := admin.tokenOf(admin.grantedApp(t, "reviewer", "platform:scopes:approve"))
	// self holds platform:scopes:approve and asks for events:publish.
	selfApp := admin.grantedApp(t, "self", "platform:apps:write", "platform:scopes:approve")
	self := admin.tokenOf(selfApp)
	other := admin.grantedApp(t, "other", "platform:scopes:approve")
	selfViaOther := admin.as(self.serviceToken(other.ID).AccessToken)
	catalog := scopeName("cases")
	admin.defineScope(map[string]any{"name": catalog, "description": "Read cases"})

	decisions := []struct {
		name   string
		caller *api
		target func(t *testing.T) string // as the caller's t
		scope  string
		status int
	}{
		{"independent reviewer, built-in", reviewer, func(t *testing.T) string {
			return admin.in(t).createApp(map[string]any{"name": uniqueName(t, "t"), "requested_scopes": []string{"events:publish"}}).ID
		}, "events:publish", http.StatusOK},
		{"creator lacking the built-in scope", creator, func(t *testing.T) string {
			return creator.in(t).createApp(map[string]any{"name": uniqueName(t, "t"), "requested_scopes": []string{"events:publish"}}).ID
		}, "events:publish", http.StatusForbidden},
		{"creator holding the built-in scope", strong, func(t *testing.T) string {
			return strong.in(t).createApp(map[string]any{"name": uniqueName(t, "t"), "requested_scopes": []string{"events:publish"}}).ID
		}, "events:publish", http.StatusOK},
		{"creator, catalog scope", creator, func(t *testing.T) string {
			return creator.in(t).createApp(map[string]any{"name": uniqueName(t, "t"), "requested_scopes": []string{catalog}}).ID
		}, catalog, http.StatusOK},
		{"the app itself", self, func(t *testing.T) string {
			self.in(t).call(http.MethodPost, "/v1/platform/apps/"+selfApp.ID+"/scope-requests", map[string]any{"scopes": []string{catalog}})
			return selfApp.ID
		}, catalog, http.StatusForbidden},
		{"the app itself through a service token of another app", selfViaOther, func(t *testing.T) string {
			self.in(t).call(http.MethodPost, "/v1/platform/apps/"+selfApp.ID+"/scope-requests", map[string]any{"scopes": []string{catalog}})
			return selfApp.ID
		}, catalog, http.StatusForbidden},
	}
	for _, d := range decisions {
		t.Run("approve/"+d.name, func(t *testing.T) {
			id := d.target(t)
			r := d.caller.in(t).call(http.MethodPost, "/v1/platform/apps/"+id+"/scope-decisions", map[string]any{"scope": d.scope, "decision": "approve"})
			if d.status == http.StatusForbidden {
				wantProblem(t, r, http.StatusForbidden, "forbidden")
				if got := admin.in(t).getApp(id).scopeStatus()[d.scope]; got != "pending" {
					t.Errorf("after a refused approval the scope is %q, want pending", got)
				}
				return
			}
			if r.Status != d.status || appScopes(t, r)[d.scope].Status != "approved" {
				t.Fatalf("approve = %s, want %d approved", r, d.status)
			}
		})
	}
}

// TestAuthorityQuorumCountsActors: with approvals_required 2, one admin
// counts once whether it approves itself, through a service token it
// minted for a reviewer app, or through the secret of a reviewer app it
// created; the reviewer counts as a second actor once it holds the only
// live secret of its own.
func TestAuthorityQuorumCountsActors(t *testing.T) {
	t.Parallel()
	s := shared(t)
	admin := freshTenant(t, s, "quorum")
	adminApp := admin.adminApp()
	revApp := admin.grantedApp(t, "reviewer", "platform:scopes:approve", "platform:apps:write")
	quorum := scopeName("payroll")
	admin.defineScope(map[string]any{"name": quorum, "description": "Read payroll", "approvals_required": 2})
	target := admin.createApp(map[string]any{"name": uniqueName(t, "target"), "requested_scopes": []string{quorum}})

	if got := admin.decide(target.ID, quorum, "approve", "")[quorum]; got.Status != "pending" || !equalStrings(got.Approvals, adminApp.ID) {
		t.Fatalf("after the admin's approval: %+v", got)
	}
	// Through a service token of the reviewer minted by the admin: the
	// admin again, so nothing changes.
	viaST := admin.as(admin.serviceToken(revApp.ID).AccessToken)
	if got := viaST.decide(target.ID, quorum, "approve", "")[quorum]; got.Status != "pending" || !equalStrings(got.Approvals, adminApp.ID) {
		t.Fatalf("the admin through a service token counted again: %+v", got)
	}
	// With the reviewer's own secret, which the admin was handed when it
	// created the reviewer: refused.
	rev := admin.tokenOf(revApp)
	wantProblem(t, rev.call(http.MethodPost, "/v1/platform/apps/"+target.ID+"/scope-decisions", map[string]any{"scope": quorum, "decision": "approve"}), http.StatusForbidden, "forbidden")
	if got := admin.getApp(target.ID).scopeStatus()[quorum]; got != "pending" {
		t.Fatalf("after the refused approval: %s", got)
	}
	// The reviewer rotates its own secret, ending the admin's copy.
	r := rev.call(http.MethodPost, "/v1/platform/apps/"+revApp.ID+"/secrets", map[string]any{"grace_period_seconds": 0})
	if r.Status != http.StatusCreated {
		t.Fatalf("the reviewer rotates its secret: %s", r)
	}
	var rot rotatedSecretView
	r.decode(t, &rot)
	revApp.ClientSecret = rot.ClientSecret
	rev = admin.tokenOf(revApp)
	got := rev.decide(target.ID, quorum, "approve", "independent")[quorum]
	if got.Status != "approved" || !equalStrings(got.Approvals, adminApp.ID, revApp.ID) {
		t.Fatalf("after the independent reviewer: %+v", got)
	}
}

type rotatedSecretView struct {
	ID           string `json:"id"`
	ClientSecret string `json:"client_secret"`
}

// chainActor is an actor of the audit feed with its chain.
type chainActor struct {
	Kind       string      `json:"kind"`
	ID         string      `json:"id"`
	Via        string      `json:"via"`
	OnBehalfOf *chainActor `json:"on_behalf_of"`
}

// TestAuthorityAuditChain: a service token names the admin that minted
// it (RFC 8693 act claim), and the events it leads to name the app, the
// token and the admin behind it, nested when the admin itself acted with
// a service token; token.minted names the admin and the token it used.
func TestAuthorityAuditChain(t *testing.T) {
	t.Parallel()
	s := shared(t)
	admin := freshTenant(t, s, "audit")
	adminApp := admin.adminApp()
	adminJTI := jtiOf(t, admin.token)
	m := admin.grantedApp(t, "m", "platform:apps:write", "platform:apps:read")
	n := admin.grantedApp(t, "n", "platform:apps:write")

	st := admin.serviceToken(m.ID)
	var claims struct {
		Act struct {
			Sub   string `json:"sub"`
			AppID string `json:"app_id"`
		} `json:"act"`
	}
	if err := json.Unmarshal(mustDecodeSegment(t, strings.Split(st.AccessToken, ".")[1]), &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Act.Sub != adminApp.ClientID || claims.Act.AppID != adminApp.ID {
		t.Errorf("act claim = %+v, want the admin %s/%s", claims.Act, adminApp.ClientID, adminApp.ID)
	}
	asM := admin.as(st.AccessToken)
	x := asM.createApp(map[string]any{"name": uniqueName(t, "x")})
	// m, acting for the admin, mints for n: the chain is n ← m ← admin.
	st2 := asM.serviceToken(n.ID)
	asN := admin.as(st2.AccessToken)
	if r := asN.call(http.MethodPatch, "/v1/platform/apps/"+x.ID, map[string]any{"name": uniqueName(t, "x2")}); r.Status != http.StatusOK {
		t.Fatalf("patch through the nested service token: %s", r)
	}

	actors := map[string]chainActor{} // by event type and subject
	for _, stream := range []string{"control", "events"} {
		for _, e := range admin.rawFeed(t, stream) {
			actors[e.Type+" "+e.Subject+" "+e.JTI] = e.Actor
		}
	}
	want := map[string]chainActor{
		"token.minted token/" + m.ID + " " + st.JTI:  {Kind: "app", ID: adminApp.ID, Via: adminJTI},
		"app.created app/" + x.ID + " ":              {Kind: "app", ID: m.ID, Via: st.JTI, OnBehalfOf: &chainActor{Kind: "app", ID: adminApp.ID}},
		"token.minted token/" + n.ID + " " + st2.JTI: {Kind: "app", ID: m.ID, Via: st.JTI, OnBehalfOf: &chainActor{Kind: "app", ID: adminApp.ID}},
		"app.updated app/" + x.ID + " ": {Kind: "app", ID: n.ID, Via: st2.JTI,
			OnBehalfOf: &chainActor{Kind: "app", ID: m.ID, OnBehalfOf: &chainActor{Kind: "app", ID: adminApp.ID}}},
	}
	for k, w := range want {
		got, ok := actors[k]
		if !ok {
			t.Errorf("the feed has no %s", k)
			continue
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(w)
		if string(gj) != string(wj) {
			t.Errorf("%s: actor %s, want %s", k, gj, wj)
		}
	}
	if x := admin.getApp(x.ID); x.CreatedBy != m.ID {
		t.Errorf("created_by = %s, want the app that acted (%s)", x.CreatedBy, m.ID)
	}
}

// chainEvent is an event of the feed with its actor's chain and, for
// token events, the jti.
type chainEvent struct {
	Type    string
	Subject string
	JTI     string
	Actor   chainActor
}

// rawFeed reads the whole of one stream of the feed.
func (a *api) rawFeed(t *testing.T, stream string) []chainEvent {
	t.Helper()
	var out []chainEvent
	after := uint64(0)
	for range 10_000 {
		r := a.call(http.MethodGet, "/v1/platform/events?stream="+stream+"&limit=500&after="+itoa(after), nil)
		if r.Status != http.StatusOK {
			t.Fatalf("feed: %s", r)
		}
		var page struct {
			Items []struct {
				Type    string     `json:"type"`
				Subject string     `json:"subject"`
				Actor   chainActor `json:"actor"`
				Data    struct {
					JTI string `json:"jti"`
				} `json:"data"`
			} `json:"items"`
			NextAfter uint64 `json:"next_after"`
		}
		r.decode(t, &page)
		for _, it := range page.Items {
			out = append(out, chainEvent{Type: it.Type, Subject: it.Subject, JTI: it.Data.JTI, Actor: it.Actor})
		}
		if page.NextAfter == after {
			return out
		}
		after = page.NextAfter
	}
	t.Fatal("feed: too many pages")
	return nil
}

func itoa(u uint64) string {
	b, _ := json.Marshal(u)
	return string(b)
}

// Issue 12 point 6: a kill switch stays thrown.

// TestKillSwitchStaysThrown: a token issued before its app was
// deactivated stays dead once the app is active again, and a token issued
// before a scope was revoked never carries it again once it is approved
// anew; tokens issued after work. The same holds after a restart, which
// rebuilds the projections from the log.
func TestKillSwitchStaysThrown(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := adminAPI(t, s)
	app := admin.grantedApp(t, "k", "platform:apps:read", "webhooks:read")
	path := "/v1/platform/apps/" + app.ID
	before := admin.mint(appCreds(app)).AccessToken

	patch := func(active bool) {
		t.Helper()
		if r := admin.call(http.MethodPatch, path, map[string]any{"active": active}); r.Status != http.StatusOK {
			t.Fatalf("active %v: %s", active, r)
		}
	}
	patch(false)
	if admin.active(before) {
		t.Fatal("a token of a deactivated app is active")
	}
	patch(true)
	after := admin.mint(appCreds(app)).AccessToken

	// Scope revocation, then approval anew.
	scoped := admin.mint(appCreds(app)).AccessToken
	admin.decide(app.ID, "platform:apps:read", "revoke", "kill")
	if r := admin.as(after).call(http.MethodPost, path+"/scope-requests", map[string]any{"scopes": []string{"platform:apps:read"}}); r.Status != http.StatusOK {
		t.Fatalf("ask again: %s", r)
	}
	admin.decide(app.ID, "platform:apps:read", "approve", "back")
	fresh := admin.mint(appCreds(app)).AccessToken

	check := func(stage string) {
		t.Helper()
		a := newAPI(t, s, "")
		if in := a.introspect(adminCreds(), before); in["active"] != false {
			t.Errorf("%s: the token issued before the deactivation introspects %v", stage, in)
		}
		wantProblem(t, a.as(before).call(http.MethodGet, path, nil), http.StatusUnauthorized, "unauthorized")
		if in := a.introspect(adminCreds(), scoped); in["active"] != true || in["scope"] != "webhooks:read" {
			t.Errorf("%s: the token issued before the revocation introspects %v, want active with webhooks:read only", stage, in)
		}
		wantProblem(t, a.as(scoped).call(http.MethodGet, path, nil), http.StatusForbidden, "insufficient_scope")
		for name, tok := range map[string]string{"after the reactivation": after, "after the approval": fresh} {
			in := a.introspect(adminCreds(), tok)
			scopes := strings.Fields(asString(in["scope"]))
			if in["active"] != true || (name == "after the approval" && !slices.Contains(scopes, "platform:apps:read")) {
				t.Errorf("%s: a token issued %s introspects %v", stage, name, in)
			}
		}
		if r := a.as(fresh).call(http.MethodGet, path, nil); r.Status != http.StatusOK {
			t.Errorf("%s: the token issued after the approval: %s", stage, r)
		}
	}
	check("live")
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s.restart(t)
	check("rebuilt from the log")
}

func asString(v any) string {
	s, _ := v.(string)
	return s
}

// TestAuthorityIdempotentReplay: an Idempotency-Key replay answers only a
// caller with the same authority. The same admin with a token narrowed to
// platform:apps:write, repeating the request that minted a service token
// of an app holding more, gets 403, not the stored token; the full token
// gets the replay.
func TestAuthorityIdempotentReplay(t *testing.T) {
	t.Parallel()
	s := shared(t)
	admin := freshTenant(t, s, "replay")
	target := admin.grantedApp(t, "target", targetScopes...)
	path := "/v1/platform/apps/" + target.ID + "/tokens"
	key := "replay-" + uniqueName(t, "k")
	first := admin.call(http.MethodPost, path, map[string]any{}, "Idempotency-Key", key)
	if first.Status != http.StatusCreated {
		t.Fatalf("service token: %s", first)
	}
	narrow := admin.as(admin.mint(admin.admin, "platform:apps:write").AccessToken)
	r := narrow.call(http.MethodPost, path, map[string]any{}, "Idempotency-Key", key)
	wantProblem(t, r, http.StatusForbidden, "forbidden")
	if strings.Contains(string(r.Body), "access_token") {
		t.Fatalf("the narrowed token got a token: %s", r)
	}
	again := admin.as(admin.mint(admin.admin).AccessToken).call(http.MethodPost, path, map[string]any{}, "Idempotency-Key", key)
	if again.Status != http.StatusCreated || again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
		t.Fatalf("a token of the same authority: %s (replayed %q), want the first answer replayed", again, again.Header.Get("Idempotent-Replayed"))
	}
}
