package e2e

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// scopeName returns a catalog scope name no other test uses.
func scopeName(prefix string) string {
	return prefix + ":" + strings.ToLower(rand.Text()[:10])
}

// appScope is one entry of an app's "scopes".
type appScope struct {
	Scope     string   `json:"scope"`
	Status    string   `json:"status"`
	DecidedBy string   `json:"decided_by"`
	Reason    string   `json:"reason"`
	Approvals []string `json:"approvals"`
}

// appScopes reads an app's scopes from a JSON answer.
func appScopes(t *testing.T, r reply) map[string]appScope {
	t.Helper()
	var app struct {
		Scopes []appScope `json:"scopes"`
	}
	r.decode(t, &app)
	out := map[string]appScope{}
	for _, s := range app.Scopes {
		out[s.Scope] = s
	}
	return out
}

// decide posts a scope decision and wants 200.
func (a *api) decide(appID, scope, decision, reason string) map[string]appScope {
	a.t.Helper()
	r := a.call(http.MethodPost, "/v1/platform/apps/"+appID+"/scope-decisions", map[string]any{"scope": scope, "decision": decision, "reason": reason})
	if r.Status != http.StatusOK {
		a.t.Fatalf("%s %s for %s: %s", decision, scope, appID, r)
	}
	return appScopes(a.t, r)
}

func (a *api) defineScope(body map[string]any) {
	a.t.Helper()
	if r := a.call(http.MethodPost, "/v1/platform/scopes", body); r.Status != http.StatusCreated {
		a.t.Fatalf("define scope %v: %s", body, r)
	}
}

// reviewer creates a second admin app of the tenant holding
// platform:scopes:approve (approved by a), and returns its API. The
// reviewer then rotates its own secret without grace, so a no longer
// holds one of its credentials and its approvals count as another actor's
// (issue 12 point 1: one actor counts once, whatever app it acts through).
func (a *api) reviewer(t *testing.T, name string) (*api, appView) {
	t.Helper()
	app := a.createApp(map[string]any{"name": uniqueName(t, name), "requested_scopes": []string{"platform:scopes:approve", "platform:apps:read", "platform:apps:write"}})
	a.decide(app.ID, "platform:scopes:approve", "approve", "second reviewer")
	a.decide(app.ID, "platform:apps:read", "approve", "")
	a.decide(app.ID, "platform:apps:write", "approve", "")
	own := a.as(a.mint(appCreds(app)).AccessToken)
	r := own.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/secrets", map[string]any{"grace_period_seconds": 0})
	if r.Status != http.StatusCreated {
		t.Fatalf("the reviewer rotates its own secret: %s", r)
	}
	var rot struct {
		ClientSecret string `json:"client_secret"`
	}
	r.decode(t, &rot)
	app.ClientSecret = rot.ClientSecret
	return a.as(a.mint(appCreds(app)).AccessToken), app
}

// TestScopeCatalog: scope discovery by any token, the catalog's rules,
// requires_approval false, reserved system scopes, event types.
func TestScopeCatalog(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	open, strict := scopeName("docs"), scopeName("cases")
	a.defineScope(map[string]any{"name": open, "description": "Read docs", "requires_approval": false})
	a.defineScope(map[string]any{"name": strict, "description": "Read cases"})
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/scopes", map[string]any{"name": strict}), http.StatusConflict, "conflict")
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/scopes", map[string]any{"name": "platform:apps:read"}), http.StatusConflict, "conflict")
	p := wantProblem(t, a.call(http.MethodPost, "/v1/platform/scopes", map[string]any{"name": "Cases Read", "approvals_required": 11, "description": strings.Repeat("x", 1001)}), http.StatusBadRequest, "validation_error")
	if !equalStrings(p.fields(), "name", "description", "approvals_required") {
		t.Errorf("invalid scope fields = %v", p.fields())
	}

	// Scope discovery: a token with no scope at all reads the catalog.
	bare := a.createApp(map[string]any{"name": uniqueName(t, "bare")})
	b := a.as(a.mint(appCreds(bare)).AccessToken)
	entries, _ := b.catalogPages("/v1/platform/scopes", 500)
	names := map[string]bool{}
	for _, it := range entries {
		names[it.Name] = true
		if it.BuiltIn && (!it.RequiresApproval || it.ApprovalsRequired != 1) {
			t.Errorf("built-in %s does not require one approval: %+v", it.Name, it)
		}
	}
	for _, want := range append([]string{open, strict}, builtinScopes...) {
		if !names[want] {
			t.Errorf("scope discovery lacks %s", want)
		}
	}

	// A scope needing no approval is approved at once; others pending.
	app := a.createApp(map[string]any{"name": uniqueName(t, "app"), "requested_scopes": []string{open, strict}})
	if got := app.scopeStatus(); got[open] != "approved" || got[strict] != "pending" {
		t.Errorf("scopes at creation = %v, want %s approved and %s pending", got, open, strict)
	}
	tok := a.mint(appCreds(app))
	if got := tok.Extra("scope"); got != open {
		t.Errorf("granted %v, want only %s", got, open)
	}

	// system:* scopes are the bootstrap admin's alone.
	for _, body := range []map[string]any{
		{"name": uniqueName(t, "sneaky"), "requested_scopes": []string{"system:tenants:write"}},
	} {
		wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps", body), http.StatusBadRequest, "validation_error")
	}
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/scope-requests", map[string]any{"scopes": []string{"system:keys:write"}}), http.StatusBadRequest, "validation_error")
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/scope-decisions", map[string]any{"scope": "system:tenants:write", "decision": "approve"}), http.StatusBadRequest, "validation_error")
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/scope-requests", map[string]any{"scopes": []string{"nope:" + open}}), http.StatusBadRequest, "validation_error")

	// Event types: each names a scope of the catalog.
	et := "case.updated_" + strings.ToLower(rand.Text()[:8])
	if r := a.call(http.MethodPost, "/v1/platform/event-types", map[string]any{"name": et, "description": "A case changed", "scope": strict}); r.Status != http.StatusCreated {
		t.Fatalf("define event type: %s", r)
	}
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/event-types", map[string]any{"name": et, "scope": strict}), http.StatusConflict, "conflict")
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/event-types", map[string]any{"name": "app.created", "scope": strict}), http.StatusConflict, "conflict")
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/event-types", map[string]any{"name": "x." + et, "scope": "missing:scope"}), http.StatusBadRequest, "validation_error")
	if types := b.catalogNames("/v1/platform/event-types"); !slices.Contains(types, et) || !slices.Contains(types, "webhook.disabled") {
		t.Errorf("event types lack %s or the built-ins: %v", et, types)
	}
	wantProblem(t, b.call(http.MethodPost, "/v1/platform/scopes", map[string]any{"name": scopeName("x")}), http.StatusForbidden, "insufficient_scope")

	// Removing: built-ins never; a scope an event type needs, not yet.
	wantProblem(t, a.call(http.MethodDelete, "/v1/platform/scopes/platform:apps:read", nil), http.StatusConflict, "conflict")
	wantProblem(t, a.call(http.MethodDelete, "/v1/platform/event-types/app.created", nil), http.StatusConflict, "conflict")
	wantProblem(t, a.call(http.MethodDelete, "/v1/platform/scopes/"+strict, nil), http.StatusConflict, "conflict")
	if r := a.call(http.MethodDelete, "/v1/platform/event-types/"+et, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete event type: %s", r)
	}
	if r := a.call(http.MethodDelete, "/v1/platform/scopes/"+strict, nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete scope: %s", r)
	}
	wantProblem(t, a.call(http.MethodDelete, "/v1/platform/scopes/"+strict, nil), http.StatusNotFound, "not_found")
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/scope-requests", map[string]any{"scopes": []string{strict}}), http.StatusBadRequest, "validation_error")
	// The name can be defined again.
	a.defineScope(map[string]any{"name": strict, "description": "Read cases, again"})
}

func (app appView) scopeStatus() map[string]string {
	out := map[string]string{}
	for _, s := range app.Scopes {
		out[s.Scope] = s.Status
	}
	return out
}

// TestQuorumApprovals: a scope needing two approvals is approved by two
// different admin apps, not by one approving twice; one rejection
// rejects; a rejected scope can be requested again, by the app itself.
func TestQuorumApprovals(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	adminApp := a.adminApp()
	rev, revApp := a.reviewer(t, "reviewer")
	quorum := scopeName("payroll")
	a.defineScope(map[string]any{"name": quorum, "description": "Read payroll", "approvals_required": 2})
	app := a.createApp(map[string]any{"name": uniqueName(t, "app"), "requested_scopes": []string{quorum}})

	got := a.decide(app.ID, quorum, "approve", "looks fine")[quorum]
	if got.Status != "pending" || !equalStrings(got.Approvals, adminApp.ID) {
		t.Fatalf("after one approval: %+v, want pending with the admin's approval", got)
	}
	got = a.decide(app.ID, quorum, "approve", "again")[quorum]
	if got.Status != "pending" || len(got.Approvals) != 1 {
		t.Fatalf("one admin approving twice counted twice: %+v", got)
	}
	_, err := a.tryMint(appCreds(app), quorum)
	wantTokenError(t, err, http.StatusBadRequest, "invalid_scope")

	got = rev.decide(app.ID, quorum, "approve", "second pair of eyes")[quorum]
	if got.Status != "approved" || got.DecidedBy != revApp.ID || !equalStrings(got.Approvals, adminApp.ID, revApp.ID) {
		t.Fatalf("after two approvals: %+v, want approved, decided by the reviewer, both approvals listed", got)
	}
	if tok := a.mint(appCreds(app), quorum); tok.Extra("scope") != quorum {
		t.Errorf("granted %v, want %s", tok.Extra("scope"), quorum)
	}

	// One rejection rejects, whatever approvals it had.
	other := scopeName("payroll")
	a.defineScope(map[string]any{"name": other, "approvals_required": 2})
	app2 := a.createApp(map[string]any{"name": uniqueName(t, "app2"), "requested_scopes": []string{other}})
	a.decide(app2.ID, other, "approve", "")
	got = rev.decide(app2.ID, other, "reject", "not for this integration")[other]
	if got.Status != "rejected" || got.Reason != "not for this integration" || got.DecidedBy != revApp.ID {
		t.Fatalf("after a rejection: %+v", got)
	}
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps/"+app2.ID+"/scope-decisions", map[string]any{"scope": other, "decision": "approve"}), http.StatusConflict, "conflict")
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps/"+app2.ID+"/scope-decisions", map[string]any{"scope": other, "decision": "revoke"}), http.StatusConflict, "conflict")
	// The app itself asks again with its own token, which holds no scope.
	self := a.as(a.mint(appCreds(app2)).AccessToken)
	r := self.call(http.MethodPost, "/v1/platform/apps/"+app2.ID+"/scope-requests", map[string]any{"scopes": []string{other}})
	if r.Status != http.StatusOK || appScopes(t, r)[other].Status != "pending" || len(appScopes(t, r)[other].Approvals) != 0 {
		t.Fatalf("request again: %s", r)
	}
	// ... but not for another app.
	wantProblem(t, self.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/scope-requests", map[string]any{"scopes": []string{other}}), http.StatusForbidden, "insufficient_scope")
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps/"+app2.ID+"/scope-decisions", map[string]any{"scope": "never:asked", "decision": "approve"}), http.StatusConflict, "conflict")
	// Deciding needs platform:scopes:approve.
	wantProblem(t, self.call(http.MethodPost, "/v1/platform/apps/"+app2.ID+"/scope-decisions", map[string]any{"scope": other, "decision": "approve"}), http.StatusForbidden, "insufficient_scope")
}

// TestScopeRevocation: revoking an approved scope stops it at once: the
// platform API refuses existing tokens for it, introspection drops it, and
// it is not minted any more.
func TestScopeRevocation(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	app := a.createApp(map[string]any{"name": uniqueName(t, "app"), "requested_scopes": []string{"platform:apps:read", "webhooks:read"}})
	a.decide(app.ID, "platform:apps:read", "approve", "")
	a.decide(app.ID, "webhooks:read", "approve", "")
	tok := a.mint(appCreds(app)).AccessToken
	user := a.as(tok)
	if r := user.call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil); r.Status != http.StatusOK {
		t.Fatalf("read with the scope: %s", r)
	}
	got := a.decide(app.ID, "platform:apps:read", "revoke", "contract ended")["platform:apps:read"]
	if got.Status != "rejected" || got.Reason != "contract ended" {
		t.Errorf("revoked scope reads %+v, want rejected with the reason", got)
	}
	wantProblem(t, user.call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil), http.StatusForbidden, "insufficient_scope")
	in := a.introspect(a.admin, tok)
	if in["active"] != true || in["scope"] != "webhooks:read" {
		t.Errorf("introspection after revocation = %v, want active with webhooks:read only", in)
	}
	_, err := a.tryMint(appCreds(app), "platform:apps:read")
	wantTokenError(t, err, http.StatusBadRequest, "invalid_scope")
	if fresh := a.mint(appCreds(app)); fresh.Extra("scope") != "webhooks:read" {
		t.Errorf("a new token carries %v, want webhooks:read only", fresh.Extra("scope"))
	}
}

// TestSecretRotation: the grace period, its end, immediate revocation and
// the limit of five live secrets, with real clients.
func TestSecretRotation(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	app := a.createApp(map[string]any{"name": uniqueName(t, "app"), "requested_scopes": []string{"webhooks:read"}})
	a.decide(app.ID, "webhooks:read", "approve", "")
	old := appCreds(app)
	var previousEnd time.Time // of the last rotation
	rotate := func(grace int) (credentials, string) {
		t.Helper()
		r := a.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/secrets", map[string]any{"grace_period_seconds": grace})
		if r.Status != http.StatusCreated {
			t.Fatalf("rotate: %s", r)
		}
		var out struct {
			ID                string    `json:"id"`
			ClientSecret      string    `json:"client_secret"`
			PreviousExpiresAt time.Time `json:"previous_expires_at"`
		}
		r.decode(t, &out)
		if !strings.HasPrefix(out.ClientSecret, "ghcs_") || out.ID == "" {
			t.Fatalf("rotate answer: %s", r)
		}
		c := old
		c.secret = out.ClientSecret
		previousEnd = out.PreviousExpiresAt
		return c, out.ID
	}

	// A grace of 2 s: both work until previous_expires_at, then only the
	// new one. Both edges are pinned: a success of the old secret must
	// have been asked before previous_expires_at, a refusal answered after
	// it (the server and the test share the clock; slack is its
	// resolution).
	const slack = 5 * time.Millisecond
	start := time.Now()
	next, _ := rotate(2)
	if d := previousEnd.Sub(start); d < 2*time.Second-slack || d > 2*time.Second+time.Since(start)+slack {
		t.Fatalf("previous_expires_at %s is %s after the rotation was asked, want 2 s", previousEnd, d)
	}
	a.mint(old)
	a.mint(next)
	successes := 0
	for deadline := previousEnd.Add(20 * time.Second); ; {
		asked := time.Now()
		_, err := a.tryMint(old)
		answered := time.Now()
		if err == nil {
			if asked.After(previousEnd.Add(slack)) {
				t.Fatalf("the old secret worked when asked %s after previous_expires_at", asked.Sub(previousEnd))
			}
			successes++
		} else {
			wantTokenError(t, err, http.StatusUnauthorized, "invalid_client")
			if answered.Before(previousEnd.Add(-slack)) {
				t.Fatalf("the old secret was refused %s before previous_expires_at", previousEnd.Sub(answered))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the old secret still works 20 s after previous_expires_at")
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	if successes == 0 {
		t.Error("the old secret never worked during its grace period")
	}
	a.mint(next)

	// A grace of 0 ends the previous secret at once.
	third, _ := rotate(0)
	_, err := a.tryMint(next)
	wantTokenError(t, err, http.StatusUnauthorized, "invalid_client")
	a.mint(third)

	// Five live secrets at most.
	var ids []string
	for range 4 {
		_, id := rotate(3600)
		ids = append(ids, id)
	}
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/secrets", map[string]any{"grace_period_seconds": 3600}), http.StatusConflict, "conflict")
	wantProblem(t, a.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/secrets", map[string]any{"grace_period_seconds": 31 * 24 * 3600}), http.StatusBadRequest, "validation_error")

	// Revoking one secret stops it at once.
	a.mint(third)
	var view appView
	a.call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil).decode(t, &view)
	if len(view.Secrets) != 5 {
		t.Errorf("the app lists %d secrets, want 5 live ones", len(view.Secrets))
	}
	thirdID := view.Secrets[0].ID
	if r := a.call(http.MethodDelete, "/v1/platform/apps/"+app.ID+"/secrets/"+thirdID, nil); r.Status != http.StatusNoContent {
		t.Fatalf("revoke secret: %s", r)
	}
	_, err = a.tryMint(third)
	wantTokenError(t, err, http.StatusUnauthorized, "invalid_client")
	wantProblem(t, a.call(http.MethodDelete, "/v1/platform/apps/"+app.ID+"/secrets/sec_missing", nil), http.StatusNotFound, "not_found")
	// The last live secret cannot be revoked.
	last, lastID := rotate(0)
	a.mint(last)
	wantProblem(t, a.call(http.MethodDelete, "/v1/platform/apps/"+app.ID+"/secrets/"+lastID, nil), http.StatusConflict, "conflict")
	if strings.Contains(string(a.call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil).Body), "hash") {
		t.Error("GET app shows secret hashes")
	}
	_ = ids
}

// TestServiceTokens: an admin mints a token for an app (approved scopes,
// bounded TTL), recorded with the admin as actor, revocable by the admin
// and by the app.
func TestServiceTokens(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	adminApp := a.adminApp()
	app := a.createApp(map[string]any{"name": uniqueName(t, "app"), "requested_scopes": []string{"platform:apps:read", "webhooks:read"}})
	a.decide(app.ID, "platform:apps:read", "approve", "")
	mint := func(body map[string]any) (reply, serviceTokenView) {
		r := a.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/tokens", body)
		var out serviceTokenView
		if r.Status == http.StatusCreated {
			r.decode(t, &out)
		}
		return r, out
	}
	r, st := mint(map[string]any{"scopes": []string{"platform:apps:read"}, "ttl_seconds": 120})
	if r.Status != http.StatusCreated || st.TokenType != "Bearer" || st.ExpiresIn != 120 || st.Scope != "platform:apps:read" {
		t.Fatalf("service token: %s", r)
	}
	h, c := a.verifyJOSE(st.AccessToken)
	if h.ExtraHeaders["typ"] != "at+jwt" || c.ClientID != app.ClientID || c.Subject != app.ClientID || c.Tenant != "default" || c.JTI != st.JTI {
		t.Errorf("service token header %v claims %+v", h.ExtraHeaders, c)
	}
	if *c.Expiry-*c.IssuedAt != 120 {
		t.Errorf("exp - iat = %d, want 120", *c.Expiry-*c.IssuedAt)
	}
	holder := a.as(st.AccessToken)
	if r := holder.call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil); r.Status != http.StatusOK {
		t.Fatalf("the service token on the platform API: %s", r)
	}
	// token.minted records the admin as actor.
	feed := a.feed(t, "events", "token.minted")
	found := false
	for _, e := range feed {
		if e.Data["jti"] == st.JTI {
			found = true
			if e.Actor.ID != adminApp.ID || e.Data["grant_type"] != "service_token" || e.Data["app_id"] != app.ID {
				t.Errorf("token.minted of the service token: %+v", e)
			}
		}
	}
	if !found {
		t.Error("no token.minted event for the service token in the feed")
	}
	wantProblem(t, first(mint(map[string]any{"scopes": []string{"webhooks:read"}})), http.StatusBadRequest, "validation_error")
	wantProblem(t, first(mint(map[string]any{"ttl_seconds": 59})), http.StatusBadRequest, "validation_error")
	wantProblem(t, first(mint(map[string]any{"ttl_seconds": 86401})), http.StatusBadRequest, "validation_error")

	// The admin revokes it by jti.
	if r := a.call(http.MethodDelete, "/v1/platform/apps/"+app.ID+"/tokens/"+st.JTI, nil); r.Status != http.StatusNoContent {
		t.Fatalf("revoke: %s", r)
	}
	wantProblem(t, holder.call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil), http.StatusUnauthorized, "unauthorized")
	if a.active(st.AccessToken) {
		t.Error("a revoked service token introspects active")
	}
	// The app revokes another one itself (RFC 7009).
	_, st2 := mint(map[string]any{})
	if r := a.form("/v1/oauth/revoke", url.Values{"token": {st2.AccessToken}}, app.ClientID, app.ClientSecret); r.Status != http.StatusOK {
		t.Fatalf("revoke by the app: %s", r)
	}
	if a.active(st2.AccessToken) {
		t.Error("a service token the app revoked introspects active")
	}
	// An inactive app gets none.
	a.call(http.MethodPatch, "/v1/platform/apps/"+app.ID, map[string]any{"active": false})
	wantProblem(t, first(mint(map[string]any{})), http.StatusConflict, "conflict")
}

type serviceTokenView struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope"`
	JTI         string `json:"jti"`
}

func first[A, B any](a A, _ B) A { return a }

// feedEvent is one event of the audit feed.
type feedEvent struct {
	Seq   uint64 `json:"seq"`
	ID    string `json:"id"`
	Type  string `json:"type"`
	Actor struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	} `json:"actor"`
	Subject string         `json:"subject"`
	Data    map[string]any `json:"data"`
}

// feed reads the whole feed of a stream, filtered by types, page by page.
func (a *api) feed(t *testing.T, stream, types string) []feedEvent {
	t.Helper()
	var all []feedEvent
	after := uint64(0)
	for range 10_000 {
		q := url.Values{"stream": {stream}, "after": {fmt.Sprint(after)}, "limit": {"500"}}
		if types != "" {
			q.Set("type", types)
		}
		r := a.call(http.MethodGet, "/v1/platform/events?"+q.Encode(), nil)
		if r.Status != http.StatusOK {
			t.Fatalf("feed: %s", r)
		}
		var page struct {
			Items     []feedEvent `json:"items"`
			NextAfter uint64      `json:"next_after"`
		}
		r.decode(t, &page)
		all = append(all, page.Items...)
		if page.NextAfter == after {
			return all
		}
		after = page.NextAfter
	}
	t.Fatal("feed: too many pages")
	return nil
}

// TestAuditFeed: a tenant's own events, oldest first, paged, filtered,
// without implementation events or hashes, and none of another tenant.
func TestAuditFeed(t *testing.T) {
	t.Parallel()
	s := shared(t)
	root := adminAPI(t, s)
	r := root.call(http.MethodPost, "/v1/tenants", map[string]any{"name": uniqueName(t, "audited")})
	if r.Status != http.StatusCreated {
		t.Fatalf("create tenant: %s", r)
	}
	var ten tenantCreated
	r.decode(t, &ten)
	creds := credentials{ten.AdminApp.ClientID, ten.AdminApp.ClientSecret, oauth2.AuthStyleInHeader}
	a := newAPI(t, s, "")
	a.admin = creds
	a.token = a.mint(creds).AccessToken
	app := a.createApp(map[string]any{"name": uniqueName(t, "app"), "requested_scopes": []string{"webhooks:read"}})
	a.call(http.MethodPatch, "/v1/platform/apps/"+app.ID, map[string]any{"name": uniqueName(t, "renamed")})
	a.decide(app.ID, "webhooks:read", "approve", "ok")
	a.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/secrets", map[string]any{"grace_period_seconds": 0})
	a.call(http.MethodDelete, "/v1/platform/apps/"+app.ID, nil)
	// Something in the default tenant meanwhile: it must not show.
	other := root.createApp(map[string]any{"name": uniqueName(t, "other-tenant")})

	all := a.feed(t, "control", "")
	var types []string
	for i, e := range all {
		types = append(types, e.Type)
		if i > 0 && e.Seq <= all[i-1].Seq {
			t.Errorf("feed not oldest first: %d after %d", e.Seq, all[i-1].Seq)
		}
		if strings.HasPrefix(e.Type, "name.") || strings.HasPrefix(e.Type, "idempotency.") {
			t.Errorf("implementation event %s in the feed", e.Type)
		}
		if e.Subject == "" || e.ID == "" || e.Actor.Kind == "" {
			t.Errorf("incomplete feed event %+v", e)
		}
	}
	want := []string{"tenant.created", "app.created", "app.created", "app.updated", "app.scope.approved", "app.secret.rotated", "app.deleted"}
	if !slices.Equal(types, want) {
		t.Errorf("feed types = %v, want %v", types, want)
	}
	raw := fmt.Sprint(all)
	if strings.Contains(raw, other.ID) || strings.Contains(raw, "hash") || strings.Contains(raw, ten.AdminApp.ClientSecret) || strings.Contains(raw, app.ClientSecret) {
		t.Error("the feed shows another tenant's app, a hash or a secret")
	}
	// Paging by 2 gives the same events.
	var paged []string
	after := "0"
	for range 20 {
		r := a.call(http.MethodGet, "/v1/platform/events?limit=2&after="+after, nil)
		var page struct {
			Items     []feedEvent `json:"items"`
			NextAfter uint64      `json:"next_after"`
		}
		r.decode(t, &page)
		if len(page.Items) > 2 {
			t.Fatalf("limit 2 gave %d", len(page.Items))
		}
		for _, e := range page.Items {
			paged = append(paged, e.Type)
		}
		if fmt.Sprint(page.NextAfter) == after {
			break
		}
		after = fmt.Sprint(page.NextAfter)
	}
	if !slices.Equal(paged, want) {
		t.Errorf("paged feed = %v, want %v", paged, want)
	}
	if got := a.feed(t, "control", "app.scope.*,app.deleted"); len(got) != 2 || got[0].Type != "app.scope.approved" || got[1].Type != "app.deleted" {
		t.Errorf("type filter gave %v", got)
	}
	mints := a.feed(t, "events", "token.minted")
	if len(mints) < 1 {
		t.Error("no token.minted on the events stream")
	}
	for _, e := range mints {
		if e.Actor.ID != ten.AdminApp.ID && e.Data["app_id"] != app.ID {
			t.Errorf("a mint of another tenant's app in the feed: %+v", e)
		}
	}
	p := wantProblem(t, a.call(http.MethodGet, "/v1/platform/events?after=x&limit=501&stream=all&type=,", nil), http.StatusBadRequest, "validation_error")
	if !equalStrings(p.fields(), "after", "limit", "stream", "type") {
		t.Errorf("invalid feed params fields = %v", p.fields())
	}
	app2 := a.createApp(map[string]any{"name": uniqueName(t, "reader")})
	wantProblem(t, a.as(a.mint(appCreds(app2)).AccessToken).call(http.MethodGet, "/v1/platform/events", nil), http.StatusForbidden, "insufficient_scope")
}
