package oauth

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// TestClientFromAppApprovals: fosite's client offers authorization_code
// (and refresh_token, which follows it) only once approved, and only the
// approved redirect URIs; client_credentials needs no approval.
func TestClientFromAppApprovals(t *testing.T) {
	const u1, u2 = "https://rp.example.com/cb", "https://rp.example.com/cb2"
	app := projections.App{
		ID: "app_1", AppSettings: events.AppSettings{ClientID: "cl_1", Active: true, GrantTypes: []string{"client_credentials", "authorization_code", "refresh_token"}, RedirectURIs: []string{u1, u2}},
		Grants: []projections.AppScope{{Scope: "authorization_code", Status: events.GrantPending}},
		RedirectURIApprovals: []projections.AppScope{
			{Scope: u1, Status: events.GrantApproved}, {Scope: u2, Status: events.GrantPending},
		},
	}
	c, _ := clientFromApp(app, time.Now())
	if !slices.Equal(c.GetGrantTypes(), []string{"client_credentials"}) {
		t.Fatalf("pending authorization_code: grants %v", c.GetGrantTypes())
	}
	if !slices.Equal(c.GetRedirectURIs(), []string{u1}) {
		t.Fatalf("redirect URIs %v, want only the approved %s", c.GetRedirectURIs(), u1)
	}
	app.Grants[0].Status = events.GrantApproved
	if c, _ := clientFromApp(app, time.Now()); !slices.Equal(c.GetGrantTypes(), app.GrantTypes) {
		t.Fatalf("approved authorization_code: grants %v", c.GetGrantTypes())
	}
	app.Grants[0].Status = events.GrantRejected
	app.RedirectURIApprovals[0].Status = events.GrantRejected
	if c, _ := clientFromApp(app, time.Now()); !slices.Equal(c.GetGrantTypes(), []string{"client_credentials"}) || len(c.GetRedirectURIs()) != 0 {
		t.Fatalf("revoked: grants %v, redirect URIs %v", c.GetGrantTypes(), c.GetRedirectURIs())
	}
}

// TestClientCached: the client store gives the client it built again
// while the app is unchanged, without reading the app; an app change (a
// scope approved, a secret rotated, the app deactivated) counts at the
// next call, and so does the end of a secret's grace period.
func TestClientCached(t *testing.T) {
	ctx := t.Context()
	now := time.Now().Truncate(time.Second)
	o, _ := fuzzOAuth(t, now)
	mem := o.cfg.Store.(*memory.Store)
	clock := now
	o.clients.now = func() time.Time { return clock }
	seq := uint64(1)
	apply := func(p events.Payload) {
		t.Helper()
		seq++
		ev := events.MustNew(events.Ref{Tenant: "default", Type: events.AggApp, ID: "app_fuzz"}, events.Actor{Kind: events.ActorSystem, ID: "test"}, now, p)
		ev.Stream, ev.Seq = events.Control, seq
		if err := mem.Update(ctx, ev.Stream, ev.Seq, func(tx projections.Tx) error { return projections.Apply(tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	get := func() *Client {
		t.Helper()
		cl, err := o.clients.GetClient(ctx, "cl_fuzz")
		if err != nil {
			t.Fatal(err)
		}
		return cl.(*Client)
	}

	first := get()
	if again := get(); again != first {
		t.Fatal("the unchanged app's client was built again")
	}
	apply(&events.AppScopeRequested{Scopes: []events.ScopeGrant{{Scope: "cases:read", Status: events.GrantApproved}}})
	approved := get()
	if approved == first || !slices.Contains(approved.GetScopes(), "cases:read") {
		t.Fatalf("after a scope approval: scopes %v (same client: %v)", approved.GetScopes(), approved == first)
	}
	if len(approved.Hashes) != 1 {
		t.Fatalf("%d live secrets, want 1", len(approved.Hashes))
	}

	apply(&events.AppSecretRotated{SecretID: "sec_2", SecretHash: o.hasher.HashString("second"), PreviousExpiresAt: now.Add(time.Hour)})
	if cl := get(); len(cl.Hashes) != 2 {
		t.Fatalf("after a rotation: %d live secrets, want 2", len(cl.Hashes))
	}
	clock = now.Add(time.Hour)
	if cl := get(); len(cl.Hashes) != 1 {
		t.Fatalf("after the old secret's grace period: %d live secrets, want 1", len(cl.Hashes))
	}

	apply(&events.AppUpdated{Active: new(false)})
	if _, err := o.clients.GetClient(ctx, "cl_fuzz"); !errors.Is(err, fosite.ErrNotFound) {
		t.Fatalf("a deactivated app's client: %v, want not found", err)
	}
}

// TestClientCacheBounded: the client cache holds at most maxCachedClients.
func TestClientCacheBounded(t *testing.T) {
	var c clientCache
	for i := range maxCachedClients + 10 {
		c.put(strconv.Itoa(i), cachedClient{changes: 1, client: &Client{}})
	}
	if n := len(c.entries); n != maxCachedClients {
		t.Fatalf("%d entries, want %d", n, maxCachedClients)
	}
	if c.get(strconv.Itoa(maxCachedClients+9), 1, time.Now()) == nil {
		t.Fatal("the last client put is not cached")
	}
}
