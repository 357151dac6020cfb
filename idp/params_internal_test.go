package idp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/pkce"

	"github.com/gatehouse/gatehouse/oauth"
)

// TestCheckParamsPromptAndMaxAge: OpenID Connect Core §3.1.2.1 defines
// prompt's values (none, login, consent, select_account) and makes none
// with any other value an error; max_age is a non-negative number of
// seconds. Anything else is invalid_request; what the specification
// allows passes, max_age=0 among it.
func TestCheckParamsPromptAndMaxAge(t *testing.T) {
	for _, q := range []url.Values{
		{}, {"prompt": {"none"}}, {"prompt": {"login consent"}}, {"prompt": {"select_account"}}, {"prompt": {" consent  login "}},
		{"max_age": {"0"}}, {"max_age": {"3600"}}, {"prompt": {"login"}, "max_age": {"86400"}},
	} {
		if err := checkParams(q); err != nil {
			t.Errorf("%v: %v, want accepted", q, err)
		}
	}
	for _, q := range []url.Values{
		{"prompt": {"bogus"}}, {"prompt": {"login create"}}, {"prompt": {"none login"}}, {"prompt": {"consent none"}},
		{"prompt": {"None"}}, {"max_age": {"-1"}}, {"max_age": {"abc"}}, {"max_age": {"1.5"}}, {"max_age": {"+5"}},
		{"max_age": {"99999999999999999999"}},
	} {
		if err := checkParams(q); !errors.Is(err, fosite.ErrInvalidRequest) {
			t.Errorf("%v: %v, want invalid_request", q, err)
		}
	}
}

// TestIDTokenHint: an authorization request's id_token_hint is honoured
// only when it is an ID token of this server (its key set, its issuer)
// issued to the requesting client; anything else is invalid_request, not
// ignored. An expired one is accepted (OIDC Core §3.1.2.1 does not ask the
// server to check it), whatever the algorithm the keyring verified.
func TestIDTokenHint(t *testing.T) {
	const iss = "https://op.example.com"
	client := &oauth.Client{ClientID: "rp", Tenant: "default"}
	claims := func(mod func(m map[string]any)) string {
		m := map[string]any{"iss": iss, "sub": "usr_ada", "aud": []string{"rp"}, "tid": "default",
			"exp": time.Now().Add(-24 * time.Hour).Unix(), "iat": time.Now().Add(-25 * time.Hour).Unix()}
		mod(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	errBadSignature := errors.New("bad signature")
	// The fake verifier's token is its claims; "bad" fails to verify.
	p := &IdP{cfg: Config{Issuer: iss, VerifyIDToken: func(tok string) ([]byte, error) {
		if tok == "bad" {
			return nil, errBadSignature
		}
		return []byte(tok), nil
	}}}
	h, err := p.idTokenHint(claims(func(map[string]any) {}), client)
	if err != nil || h == nil || h.Subject != "usr_ada" || h.Tenant != "default" {
		t.Fatalf("an expired hint of this server for the client: %+v %v, want accepted", h, err)
	}
	if h, err := p.idTokenHint("", client); h != nil || err != nil {
		t.Fatalf("no hint: %+v %v", h, err)
	}
	for name, tok := range map[string]string{
		"not verified":     "bad",
		"not JSON":         "not json",
		"another issuer":   claims(func(m map[string]any) { m["iss"] = "https://other.example.com" }),
		"no issuer":        claims(func(m map[string]any) { delete(m, "iss") }),
		"another audience": claims(func(m map[string]any) { m["aud"] = []string{"other"} }),
		"no audience":      claims(func(m map[string]any) { delete(m, "aud") }),
	} {
		if h, err := p.idTokenHint(tok, client); h != nil || !errors.Is(err, fosite.ErrInvalidRequest) {
			t.Errorf("%s: %+v %v, want invalid_request", name, h, err)
		}
	}
	p.cfg.VerifyIDToken = nil
	if _, err := p.idTokenHint(claims(func(map[string]any) {}), client); !errors.Is(err, fosite.ErrInvalidRequest) {
		t.Errorf("no verifier: %v, want invalid_request", err)
	}
}

// pkceCode stands in for the code strategy and the PKCE storage fosite's
// PKCE handler needs once a request passed its checks.
type pkceCode struct {
	oauth2.AuthorizeCodeStrategy
	pkce.PKCERequestStorage
}

func (pkceCode) AuthorizeCodeSignature(context.Context, string) string { return "sig" }
func (pkceCode) CreatePKCERequestSession(context.Context, string, fosite.Requester) error {
	return nil
}

// TestCheckPKCEAsFosite: checkPKCE, which refuses an authorization
// request's PKCE before the login page, and fosite's PKCE handler, which
// holds the code's exchange to it, agree on every request under every
// configuration of the three settings they read (Gatehouse's: PKCE for
// public clients, S256 only), but for the two rules checkPKCE adds: a
// code_challenge_method without a code_challenge (fosite ignores it) and
// a code_challenge no code_verifier can match (fosite takes it, and no
// exchange can succeed). Every refusal is invalid_request.
func TestCheckPKCEAsFosite(t *testing.T) {
	ctx := context.Background()
	s256 := strings.Repeat("a", 43)
	plain := strings.Repeat("A-._~", 20) // 100 unreserved characters
	challenges := []string{"", s256, plain, "short", strings.Repeat("a", 129), s256[:42] + "=", s256[:42] + "+"}
	methods := []string{"", "S256", "plain", "s256", "RS256"}
	gatehouse := fosite.Config{EnforcePKCEForPublicClients: true}
	configs := []fosite.Config{gatehouse, {}, {EnforcePKCE: true}, {EnablePKCEPlainChallengeMethod: true},
		{EnforcePKCE: true, EnablePKCEPlainChallengeMethod: true}, {EnforcePKCEForPublicClients: true, EnablePKCEPlainChallengeMethod: true}}
	for _, cfg := range configs {
		h := &pkce.Handler{AuthorizeCodeStrategy: pkceCode{}, Storage: pkceCode{}, Config: &cfg}
		for _, public := range []bool{false, true} {
			for _, ch := range challenges {
				for _, m := range methods {
					ar := fosite.NewAuthorizeRequest()
					ar.ResponseTypes = fosite.Arguments{"code"}
					ar.Client = &fosite.DefaultClient{ID: "rp", Public: public}
					ar.Form = url.Values{}
					if ch != "" {
						ar.Form.Set("code_challenge", ch)
					}
					if m != "" {
						ar.Form.Set("code_challenge_method", m)
					}
					resp := fosite.NewAuthorizeResponse()
					resp.AddParameter("code", "the-code")
					theirs := h.HandleAuthorizeEndpointRequest(ctx, ar, resp)
					ours := checkPKCE(ctx, &cfg, ar)
					name := fmt.Sprintf("enforce=%v public-only=%v plain=%v public=%v challenge=%q method=%q",
						cfg.EnforcePKCE, cfg.EnforcePKCEForPublicClients, cfg.EnablePKCEPlainChallengeMethod, public, ch, m)
					if ours != nil && !errors.Is(ours, fosite.ErrInvalidRequest) {
						t.Errorf("%s: %v, want invalid_request", name, ours)
					}
					malformed := ch != "" && ((m == "S256" && ch != s256) || (m != "S256" && ch != s256 && ch != plain))
					switch {
					case theirs != nil && ours == nil:
						t.Errorf("%s: accepted, fosite refuses: %v", name, theirs)
					case theirs == nil && ours != nil && !(ch == "" && m != "") && !malformed:
						t.Errorf("%s: refused (%v), fosite accepts", name, ours)
					case theirs == nil && ours == nil && ((ch == "" && m != "") || malformed):
						t.Errorf("%s: accepted, want refused", name)
					}
				}
			}
		}
	}
	// The identity provider's own configuration is the one named
	// gatehouse above.
	fc := &fosite.Config{GlobalSecret: bytes.Repeat([]byte{3}, 32)}
	configure(oauth.Extension{Config: fc}, &grants{idp: &IdP{}}, Config{})
	if fc.EnforcePKCE != gatehouse.EnforcePKCE || fc.EnforcePKCEForPublicClients != gatehouse.EnforcePKCEForPublicClients ||
		fc.EnablePKCEPlainChallengeMethod != gatehouse.EnablePKCEPlainChallengeMethod {
		t.Fatalf("configure's PKCE settings (%v %v %v) are not the ones tested", fc.EnforcePKCE, fc.EnforcePKCEForPublicClients, fc.EnablePKCEPlainChallengeMethod)
	}
}
