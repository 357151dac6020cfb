package e2e

import (
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

// signedIn runs the code flow for p on the shared server and returns the
// relying party's tokens.
func signedIn(t *testing.T, a *api, p *person, app appView, state string) *oauth2.Token {
	t.Helper()
	base := a.s.URL
	verifier := oauth2.GenerateVerifier()
	q, _ := p.authorize(base, rpOn(app, base).AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
	tok, err := rpOn(app, base).Exchange(oauthContext(t, a.hc), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v (%+v)", err, tok)
	}
	return tok
}

// userID finds the id of the user with email.
func userID(t *testing.T, a *api, email string) string {
	t.Helper()
	var page struct {
		Items []struct {
			ID    string `json:"id"`
			Email string `json:"email"`
		} `json:"items"`
		NextCursor string `json:"next_cursor,omitempty"`
	}
	cursor := ""
	for range 100 {
		r := a.call(http.MethodGet, "/v1/platform/users?limit=200&cursor="+url.QueryEscape(cursor), nil)
		if r.Status != http.StatusOK {
			t.Fatalf("list users: %s", r)
		}
		r.decode(t, &page)
		for _, u := range page.Items {
			if u.Email == email {
				return u.ID
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	t.Fatalf("no user %s", email)
	return ""
}

// TestCodeFlowDisabledUserGrantsRevoked: disabling a user revokes their
// grants (authz_grant.revoked, not only a check at use): once enabled
// again, the refresh token they held before stays dead, and so does the
// access token.
func TestCodeFlowDisabledUserGrantsRevoked(t *testing.T) {
	t.Parallel()
	a := adminAPI(t, shared(t))
	app := createCodeApp(t, a, codeFlowCallback)
	p := newPerson(t, a)
	tok := signedIn(t, a, p, app, "state-disable")
	id := userID(t, a, p.email)
	for _, disabled := range []bool{true, false} {
		if r := a.call(http.MethodPatch, "/v1/platform/users/"+id, map[string]any{"disabled": disabled}); r.Status != http.StatusOK {
			t.Fatalf("disabled=%v: %s", disabled, r)
		}
	}
	_, err := refresh(a, rpOn(app, a.s.URL), tok.RefreshToken)
	wantInvalidGrant(t, err, "a refresh token of a user disabled and enabled again")
	if a.active(tok.AccessToken) {
		t.Fatal("an access token issued before the user was disabled is active")
	}
	// Signed in again, the user gets a working family.
	tok = signedIn(t, a, p, app, "state-enabled")
	if _, err := refresh(a, rpOn(app, a.s.URL), tok.RefreshToken); err != nil {
		t.Fatalf("refresh after signing in again: %v", err)
	}
}

// TestCodeFlowGrantTypeRevokedKillsUserTokens: revoking the app's
// authorization_code grant kills the people's tokens already issued
// under it (a kill switch, as for scopes and app deactivation), and
// their refresh tokens.
func TestCodeFlowGrantTypeRevokedKillsUserTokens(t *testing.T) {
	t.Parallel()
	a := adminAPI(t, shared(t))
	app := createCodeApp(t, a, codeFlowCallback)
	p := newPerson(t, a)
	tok := signedIn(t, a, p, app, "state-grant-revoke")
	if !a.active(tok.AccessToken) {
		t.Fatal("the person's access token is not active")
	}
	decide := func(decision string) {
		t.Helper()
		r := a.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/scope-decisions", map[string]any{"grant_type": "authorization_code", "decision": decision})
		if r.Status != http.StatusOK {
			t.Fatalf("%s authorization_code: %s", decision, r)
		}
	}
	decide("revoke")
	if a.active(tok.AccessToken) {
		t.Fatal("a person's access token is active after the app's authorization_code grant was revoked")
	}
	_, err := refresh(a, rpOn(app, a.s.URL), tok.RefreshToken)
	if err == nil {
		t.Fatal("a refresh token works after the app's authorization_code grant was revoked")
	}
}
