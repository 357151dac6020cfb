package authz

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// appWith is an app with scopes approved.
func appWith(id string, scopes ...string) projections.App {
	app := projections.App{ID: id, Tenant: "t"}
	for _, s := range scopes {
		app.Scopes = append(app.Scopes, projections.AppScope{Scope: s, Status: "approved"})
	}
	return app
}

func TestMayManage(t *testing.T) {
	target := appWith("app_t", "platform:apps:write", "cases:read")
	boot := appWith("app_boot", "platform:apps:write", "system:tenants:write")
	cases := []struct {
		name   string
		p      oauth.Principal
		target projections.App
		code   string
	}{
		{"no apps:write", oauth.Principal{AppID: "app_x", Scopes: []string{"cases:read"}}, target, httpapi.CodeInsufficientScope},
		{"apps:write only", oauth.Principal{AppID: "app_x", Scopes: []string{"platform:apps:write"}}, target, httpapi.CodeForbidden},
		{"every scope", oauth.Principal{AppID: "app_x", Scopes: []string{"platform:apps:write", "cases:read"}}, target, ""},
		{"the bootstrap admin by another", oauth.Principal{AppID: "app_x", Scopes: []string{"platform:apps:write", "system:tenants:write"}}, boot, httpapi.CodeForbidden},
		{"the bootstrap admin by itself", oauth.Principal{AppID: "app_boot", Scopes: []string{"platform:apps:write", "system:tenants:write"}}, boot, ""},
	}
	for _, c := range cases {
		err := mayManage(c.p, c.target)
		if got := codeOf(err); got != c.code {
			t.Errorf("%s: %v, want code %q", c.name, err, c.code)
		}
	}
}

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	if p, ok := err.(*httpapi.Problem); ok {
		return p.Code
	}
	return "?"
}

func TestMayApprove(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	target := appWith("app_t")
	target.Secrets = []projections.AppSecret{{ID: "s1", HeldBy: "app_creator"}}
	approver := []string{"platform:scopes:approve"}
	viaService := oauth.Principal{AppID: "app_other", Scopes: approver,
		Actor: events.Actor{Kind: "app", ID: "app_other", OnBehalfOf: &events.Actor{Kind: "app", ID: "app_t"}}}
	cases := []struct {
		name  string
		p     oauth.Principal
		scope string
		code  string
	}{
		{"itself", oauth.Principal{AppID: "app_t", Scopes: approver}, "cases:read", httpapi.CodeForbidden},
		{"itself through a service token", viaService, "cases:read", httpapi.CodeForbidden},
		{"creator lacking a built-in", oauth.Principal{AppID: "app_creator", Scopes: approver}, "events:publish", httpapi.CodeForbidden},
		{"creator holding a built-in", oauth.Principal{AppID: "app_creator", Scopes: append(approver, "events:publish")}, "events:publish", ""},
		{"creator, catalog scope", oauth.Principal{AppID: "app_creator", Scopes: approver}, "cases:read", ""},
		{"independent, built-in", oauth.Principal{AppID: "app_r", Scopes: approver}, "events:publish", ""},
	}
	for _, c := range cases {
		if got := codeOf(mayApprove(c.p, target, c.scope, now)); got != c.code {
			t.Errorf("%s: code %q, want %q", c.name, got, c.code)
		}
	}
}

func TestCallerKey(t *testing.T) {
	full := oauth.Principal{AppID: "app_a", Scopes: []string{"b", "a"}}
	same := oauth.Principal{AppID: "app_a", Scopes: []string{"a", "b"}, Actor: events.Actor{Kind: "app", ID: "app_a", Via: "other-jti"}}
	narrow := oauth.Principal{AppID: "app_a", Scopes: []string{"a"}}
	service := oauth.Principal{AppID: "app_a", Scopes: []string{"a", "b"}, Actor: events.Actor{Kind: "app", ID: "app_a", OnBehalfOf: &events.Actor{Kind: "app", ID: "app_l"}}}
	if callerKey(full) != callerKey(same) {
		t.Error("two tokens of one app with the same scopes have different keys")
	}
	for name, p := range map[string]oauth.Principal{"narrow": narrow, "service token": service} {
		if callerKey(p) == callerKey(full) {
			t.Errorf("a %s shares the full token's key", name)
		}
	}
}

// TestWaitPastKill: what undoes a kill waits until the clock is past the
// kill's whole second, and not at all once it is.
func TestWaitPastKill(t *testing.T) {
	kill := time.Unix(1_800_000_000, 700_000_000)
	clock := time.Unix(1_800_000_000, 900_000_000) // 100 ms before the next second
	start := time.Now()
	if err := waitPastKill(t.Context(), func() time.Time { return clock.Add(time.Since(start)) }, &kill); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("waited %s, want at least the 100 ms left of the kill's second", waited)
	}
	past := func() time.Time { return time.Unix(1_800_000_001, 0) }
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // a wait would fail with the context's error
	if err := waitPastKill(ctx, past, &kill); err != nil {
		t.Errorf("past the second: %v, want no wait", err)
	}
	if err := waitPastKill(ctx, past, nil); err != nil {
		t.Errorf("no kill: %v", err)
	}
	if err := waitPastKill(ctx, func() time.Time { return clock }, &kill); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("a cancelled wait = %v, want the context's error", err)
	}
}
