package e2e

import (
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestCodeFlowPKCERefusedBeforeLogin: a relying party on
// golang.org/x/oauth2, a public client, sends the person to the real
// binary's authorization endpoint with PKCE the code's exchange would
// refuse: no challenge, a code_challenge_method without a challenge, the
// plain method, a challenge cut short. Each comes back to the callback at
// once, invalid_request with a description and the state, no code, no
// page shown. With oauth2.S256ChallengeOption the person signs in and
// consents, and the code redeems with the verifier only.
func TestCodeFlowPKCERefusedBeforeLogin(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	app := createCodeAppWith(t, a, map[string]any{"token_endpoint_auth_method": "none"}, codeFlowCallback)
	p := newPerson(t, a)
	rp := rpOn(app, s.URL)
	rp.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	verifier := oauth2.GenerateVerifier()
	set := oauth2.SetAuthURLParam
	for _, bad := range []struct {
		name string
		opts []oauth2.AuthCodeOption
	}{
		{"no PKCE", nil},
		{"method without challenge", []oauth2.AuthCodeOption{set("code_challenge_method", "S256")}},
		{"plain", []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), set("code_challenge_method", "plain")}},
		{"challenge cut short", []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier),
			set("code_challenge", oauth2.S256ChallengeFromVerifier(verifier)[:40])}},
	} {
		name, opts := bad.name, bad.opts
		q, shown := p.authorize(s.URL, rp.AuthCodeURL("state-pkce-bad", opts...))
		if q.Get("error") != "invalid_request" || q.Get("error_description") == "" || q.Get("state") != "state-pkce-bad" ||
			q.Has("code") || len(shown) != 0 {
			t.Errorf("%s: callback %v after pages %v, want invalid_request with state and no page", name, q, shown)
		}
	}
	q, shown := p.authorize(s.URL, rp.AuthCodeURL("state-pkce-good", oauth2.S256ChallengeOption(verifier)))
	if q.Get("code") == "" || q.Get("state") != "state-pkce-good" || strings.Join(shown, ",") != "login,consent" {
		t.Fatalf("S256: callback %v after pages %v, want a code after login and consent", q, shown)
	}
	_, err := rp.Exchange(oauthContext(t, a.hc), q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier()))
	wantInvalidGrant(t, err, "the code with another verifier")
	q, _ = p.authorize(s.URL, rp.AuthCodeURL("state-pkce-good", oauth2.S256ChallengeOption(verifier)))
	tok, err := rp.Exchange(oauthContext(t, a.hc), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("the code with its verifier: %v", err)
	}
}
