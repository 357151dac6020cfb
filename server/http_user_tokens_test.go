package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

type user struct {
	ID      string   `json:"id"`
	Roles   []string `json:"roles"`
	Version int      `json:"version"`
}

func createUser(t *testing.T, s *servertest.Server, admin, email string, roles ...string) user {
	t.Helper()
	var u user
	want(t, s.Do(http.MethodPost, "/v1/platform/users", admin, map[string]any{"email": email, "name": email, "password": "correct-horse-battery-staple-9!"}), http.StatusCreated).JSON(t, &u)
	if len(roles) > 0 {
		want(t, s.Do(http.MethodPatch, "/v1/platform/users/"+u.ID, admin, map[string]any{"roles": roles}), http.StatusOK).JSON(t, &u)
	}
	return u
}

// TestHTTPUserTokens: a signed-in admin's token (minted through the one
// mint path, as the code flow does) approves a scope and a redirect URI:
// decided_by and the feed name the user, through the app; two admins
// signed in through one console app are two approvers of a quorum of 2;
// a user cannot approve for the app their token was issued to; a
// member's token lacks platform:*; a disabled user's token is 401 and
// introspects inactive, an active one introspects with sub and username.
func TestHTTPUserTokens(t *testing.T) {
	s := servertest.New(t)
	admin := s.Token()
	console := createApp(t, s, admin, map[string]any{"name": "console", "requested_scopes": []string{"platform:scopes:approve", "platform:apps:read"}})
	decide(t, s, admin, console.ID, "platform:scopes:approve", "approve")
	decide(t, s, admin, console.ID, "platform:apps:read", "approve")
	want(t, s.Do(http.MethodPost, "/v1/platform/scopes", admin, map[string]any{"name": "cases:read", "approvals_required": 2}), http.StatusCreated)
	target := createApp(t, s, admin, map[string]any{"name": "rp", "requested_scopes": []string{"cases:read"}, "grant_types": []string{"authorization_code"},
		"redirect_uris": []string{"https://rp.example.com/cb"}, "token_endpoint_auth_method": "client_secret_post"})

	ada := createUser(t, s, admin, "ada@example.com", "admin")
	bob := createUser(t, s, admin, "bob@example.com", "admin")
	eve := createUser(t, s, admin, "eve@example.com")
	adaTok := s.UserToken(console.ClientID, ada.ID, "platform:scopes:approve", "platform:apps:read")
	bobTok := s.UserToken(console.ClientID, bob.ID, "platform:scopes:approve", "platform:apps:read")
	eveTok := s.UserToken(console.ClientID, eve.ID, "platform:scopes:approve", "platform:apps:read")

	a := decideOn(t, s, adaTok, target.ID, map[string]any{"redirect_uri": "https://rp.example.com/cb", "decision": "approve"}, http.StatusOK)
	if r := a.redirect("https://rp.example.com/cb"); r.Status != "approved" || r.DecidedBy != ada.ID || !slices.Equal(r.Approvals, []string{ada.ID}) {
		t.Fatalf("approved with a user's token: %+v", r)
	}
	// Quorum 2: Ada and Bob, both through the console app, are two.
	got := decide(t, s, adaTok, target.ID, "cases:read", "approve").scope("cases:read")
	if got.Status != "pending" {
		t.Fatalf("after Ada: %+v", got)
	}
	got = decide(t, s, bobTok, target.ID, "cases:read", "approve").scope("cases:read")
	if got.Status != "approved" || got.DecidedBy != bob.ID || !slices.Equal(got.Approvals, []string{ada.ID, bob.ID}) {
		t.Fatalf("after Bob: %+v", got)
	}
	// Not for the app the token was issued to.
	want(t, s.Do(http.MethodPost, "/v1/platform/apps/"+console.ID+"/scope-requests", admin, map[string]any{"scopes": []string{"cases:read"}}), http.StatusOK)
	wantProblem(t, s.Do(http.MethodPost, "/v1/platform/apps/"+console.ID+"/scope-decisions", adaTok, map[string]any{"scope": "cases:read", "decision": "approve"}), http.StatusForbidden, "forbidden")
	// A member's token carries no platform:* scope.
	wantProblem(t, s.Do(http.MethodPost, "/v1/platform/apps/"+target.ID+"/scope-decisions", eveTok, map[string]any{"grant_type": "authorization_code", "decision": "approve"}), http.StatusForbidden, "insufficient_scope")

	// The feed names the user, the token and the app.
	var feed struct {
		Items []struct {
			Type  string `json:"type"`
			Actor struct {
				Kind string `json:"kind"`
				ID   string `json:"id"`
				Via  string `json:"via"`
				App  string `json:"app"`
			} `json:"actor"`
			Data map[string]any `json:"data"`
		} `json:"items"`
	}
	want(t, s.Do(http.MethodGet, "/v1/platform/events?type="+url.QueryEscape("app.scope.approved"), admin, nil), http.StatusOK).JSON(t, &feed)
	var byUsers int
	for _, e := range feed.Items {
		if e.Actor.Kind == "user" {
			byUsers++
			if (e.Actor.ID != ada.ID && e.Actor.ID != bob.ID) || e.Actor.App != console.ID || e.Actor.Via == "" {
				t.Errorf("feed actor %+v", e.Actor)
			}
		}
	}
	if byUsers != 2 {
		t.Fatalf("%d approvals by users in the feed, want 2: %+v", byUsers, feed.Items)
	}

	// Introspection: sub and username; inactive once the user is disabled
	// (and the platform API answers 401).
	var intro struct {
		Active   bool   `json:"active"`
		Subject  string `json:"sub"`
		Username string `json:"username"`
		ClientID string `json:"client_id"`
		Scope    string `json:"scope"`
	}
	want(t, s.Form("/v1/oauth/introspect", console.ClientID, console.ClientSecret, map[string][]string{"token": {eveTok}}), http.StatusOK).JSON(t, &intro)
	if !intro.Active || intro.Subject != eve.ID || intro.Username != "eve@example.com" || intro.ClientID != console.ClientID || intro.Scope != "" {
		t.Fatalf("introspection of a member's token: %+v", intro)
	}
	want(t, s.Do(http.MethodPatch, "/v1/platform/users/"+ada.ID, admin, map[string]any{"disabled": true}), http.StatusOK)
	wantProblem(t, s.Do(http.MethodGet, "/v1/platform/apps/"+target.ID, adaTok, nil), http.StatusUnauthorized, "unauthorized")
	intro.Active = true
	want(t, s.Form("/v1/oauth/introspect", console.ClientID, console.ClientSecret, map[string][]string{"token": {adaTok}}), http.StatusOK).JSON(t, &intro)
	if intro.Active {
		t.Fatal("a disabled user's token introspects active")
	}
	want(t, s.Do(http.MethodPatch, "/v1/platform/users/"+ada.ID, admin, map[string]any{"disabled": false}), http.StatusOK)
	wantProblem(t, s.Do(http.MethodGet, "/v1/platform/apps/"+target.ID, adaTok, nil), http.StatusUnauthorized, "unauthorized")
	want(t, s.Do(http.MethodDelete, "/v1/platform/users/"+bob.ID, admin, nil), http.StatusNoContent)
	wantProblem(t, s.Do(http.MethodGet, "/v1/platform/apps/"+target.ID, bobTok, nil), http.StatusUnauthorized, "unauthorized")
}
