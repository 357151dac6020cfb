package idp

import (
	"encoding/json"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/ory/fosite"

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
