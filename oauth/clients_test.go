package oauth

import (
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
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
	c := clientFromApp(app, time.Now())
	if !slices.Equal(c.GetGrantTypes(), []string{"client_credentials"}) {
		t.Fatalf("pending authorization_code: grants %v", c.GetGrantTypes())
	}
	if !slices.Equal(c.GetRedirectURIs(), []string{u1}) {
		t.Fatalf("redirect URIs %v, want only the approved %s", c.GetRedirectURIs(), u1)
	}
	app.Grants[0].Status = events.GrantApproved
	if c := clientFromApp(app, time.Now()); !slices.Equal(c.GetGrantTypes(), app.GrantTypes) {
		t.Fatalf("approved authorization_code: grants %v", c.GetGrantTypes())
	}
	app.Grants[0].Status = events.GrantRejected
	app.RedirectURIApprovals[0].Status = events.GrantRejected
	if c := clientFromApp(app, time.Now()); !slices.Equal(c.GetGrantTypes(), []string{"client_credentials"}) || len(c.GetRedirectURIs()) != 0 {
		t.Fatalf("revoked: grants %v, redirect URIs %v", c.GetGrantTypes(), c.GetRedirectURIs())
	}
}
