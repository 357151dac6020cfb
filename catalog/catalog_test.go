package catalog_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// TestBuiltins: the built-in entries API.md lists, each found by name,
// built-in, and the reserved prefix on exactly the bootstrap admin's
// scopes; AppEvent is the app aggregate's built-in types, nothing else.
func TestBuiltins(t *testing.T) {
	for _, s := range catalog.BuiltinScopes {
		got, ok := catalog.BuiltinScope(s.Name)
		if !ok || got != s || !s.BuiltIn || !s.RequiresApproval || s.ApprovalsRequired != 1 {
			t.Errorf("built-in scope %+v: lookup %+v, %v", s, got, ok)
		}
		if want := s.Name == "system:tenants:write" || s.Name == "system:keys:write"; catalog.Reserved(s.Name) != want {
			t.Errorf("Reserved(%s) = %v", s.Name, !want)
		}
	}
	if _, ok := catalog.BuiltinScope("cases:read"); ok {
		t.Error("cases:read is not built in")
	}
	var app []string
	for _, e := range catalog.BuiltinEventTypes {
		if got, ok := catalog.BuiltinEventType(e.Name); !ok || got != e || !e.BuiltIn || catalog.Reserved(e.Scope) {
			t.Errorf("built-in event type %+v: lookup %+v, %v", e, got, ok)
		}
		if catalog.AppEvent(e.Name) {
			app = append(app, e.Name)
		}
	}
	if got := strings.Join(app, " "); got != "app.created app.updated app.deleted app.secret.rotated app.scope.approved app.scope.rejected app.scope.revoked" {
		t.Errorf("app events: %s", got)
	}
	for _, typ := range []string{"webhook.disabled", "webhook.test", "app.scope.requested", "app.secret.revoked", "case.updated"} {
		if catalog.AppEvent(typ) {
			t.Errorf("AppEvent(%s) = true", typ)
		}
	}
}

// project applies events to a memory store, as the projector would.
func project(t *testing.T, store *memory.Store, tenant string, payloads ...events.Payload) {
	t.Helper()
	for i, p := range payloads {
		var ref events.Ref
		switch p := p.(type) {
		case *events.ScopeDefined:
			ref = events.ScopeRef(tenant, p.Name)
		case *events.EventTypeDefined:
			ref = events.EventTypeRef(tenant, p.Name)
		}
		e := events.MustNew(ref, events.Actor{Kind: events.ActorSystem, ID: "test"}, time.Now(), p)
		e.Stream, e.Seq = events.Control, uint64(i+1)
		if err := store.Update(t.Context(), e.Stream, e.Seq, func(tx projections.Tx) error { return projections.Apply(tx, e) }); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTenant: a tenant's catalog is the built-in entries, then its own;
// another tenant's entries are not in it.
func TestTenant(t *testing.T) {
	store := memory.New()
	project(t, store, "acme",
		&events.ScopeDefined{Name: "cases:read", Description: "Read cases", RequiresApproval: false, ApprovalsRequired: 2},
		&events.EventTypeDefined{Name: "case.updated", Scope: "cases:read"})
	cat := &catalog.Tenant{Store: store}
	ctx := t.Context()
	if s, ok, err := cat.LookupScope(ctx, "acme", "cases:read"); err != nil || !ok || s.RequiresApproval || s.ApprovalsRequired != 2 || s.BuiltIn {
		t.Errorf("tenant scope = %+v, %v, %v", s, ok, err)
	}
	if _, ok, err := cat.LookupScope(ctx, "other", "cases:read"); err != nil || ok {
		t.Errorf("another tenant's scope found: %v, %v", ok, err)
	}
	if s, ok, _ := cat.LookupScope(ctx, "other", "platform:apps:read"); !ok || !s.BuiltIn || !s.RequiresApproval || s.ApprovalsRequired != 1 {
		t.Errorf("built-in scope = %+v, %v", s, ok)
	}
	if et, ok, err := cat.LookupEventType(ctx, "acme", "case.updated"); err != nil || !ok || et.Scope != "cases:read" || et.BuiltIn {
		t.Errorf("tenant event type = %+v, %v, %v", et, ok, err)
	}
	if scope, ok, _ := cat.EventTypeScope(ctx, "other", "webhook.test"); !ok || scope != "webhooks:write" {
		t.Errorf("webhook.test needs %q, %v", scope, ok)
	}
	if _, ok, _ := cat.LookupEventType(ctx, "other", "case.updated"); ok {
		t.Error("another tenant's event type found")
	}
}

func TestUserMayHold(t *testing.T) {
	admin := []string{events.RoleAdmin}
	member := []string{events.RoleMember}
	for _, c := range []struct {
		roles []string
		scope string
		want  bool
	}{
		{admin, "platform:scopes:approve", true},
		{member, "platform:scopes:approve", false},
		{nil, "platform:apps:read", false},
		{admin, "system:tenants:write", false},
		{member, "cases:read", true},
		{member, "openid", true},
		{member, "webhooks:read", true},
		// The vault's management and GraphQL's schema and free-form
		// documents administer the tenant: admin only (review r1).
		{member, "credentials:write", false},
		{member, "credentials:read", false},
		{admin, "credentials:write", true},
		{member, "graphql:introspect", false},
		{member, "graphql:adhoc", false},
		{member, "credentials:use", true},
		{member, "events:publish", true},
	} {
		if got := catalog.UserMayHold(c.roles, c.scope); got != c.want {
			t.Errorf("UserMayHold(%v, %q) = %v, want %v", c.roles, c.scope, got, c.want)
		}
	}
}
