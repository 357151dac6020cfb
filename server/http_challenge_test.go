package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestChallengeMatchesError: a 401's WWW-Authenticate never names
// another error than the body. At introspection and revocation a bearer
// token that is no client credential (a person's token, a public app's at
// introspection, an inactive one) is 401 invalid_client: the challenge
// names the scheme the caller used (RFC 6749 §5.2), Bearer, and carries
// no error attribute, since invalid_client is none of RFC 6750 §3.1's
// (it said invalid_token beside the body's invalid_client); a wrong
// secret gets Basic. Userinfo's challenges are RFC 6750 §3's: no error
// attribute without a token (§3.1), invalid_token 401 for a token that
// is not active, insufficient_scope 403 (naming openid) for one without
// openid, the latter two the body's error too.
func TestChallengeMatchesError(t *testing.T) {
	s := servertest.New(t)
	rp, _, _, tok := exchanged(t, s, "http://127.0.0.1:9/cb")
	cli := newCodeApp(t, s, "CLI", "http://127.0.0.1/callback", "none")
	ada, _ := jwtClaims(t, tok.AccessToken)["sub"].(string)
	publicTok := s.UserToken(cli.ClientID, ada, "cases:read")
	appTok := s.Token()
	bodyError := func(r servertest.Response) string {
		var b struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(r.Body, &b)
		return b.Error
	}
	check := func(name string, r servertest.Response, status int, code, challenge string) {
		t.Helper()
		if r.Status != status || bodyError(r) != code || r.Header.Get("WWW-Authenticate") != challenge {
			t.Errorf("%s: %d %q WWW-Authenticate %q, want %d %q with %q", name, r.Status, bodyError(r),
				r.Header.Get("WWW-Authenticate"), status, code, challenge)
		}
	}
	bearer := `Bearer realm="gatehouse"`
	for name, caller := range map[string]string{"a person's token of a confidential app": tok.AccessToken,
		"a person's token of a public app": publicTok, "an inactive token": "not-a-token"} {
		check("introspection with "+name, s.BearerForm("/v1/oauth/introspect", caller, url.Values{"token": {appTok}}),
			http.StatusUnauthorized, "invalid_client", bearer)
	}
	for name, caller := range map[string]string{"a person's token of a confidential app": tok.AccessToken, "an inactive token": "not-a-token"} {
		check("revocation with "+name, s.BearerForm("/v1/oauth/revoke", caller, url.Values{"token": {appTok}}),
			http.StatusUnauthorized, "invalid_client", bearer)
	}
	check("introspection with a wrong secret", s.Form("/v1/oauth/introspect", rp.ClientID, "wrong-secret-0123456789", url.Values{"token": {appTok}}),
		http.StatusUnauthorized, "invalid_client", `Basic realm="gatehouse"`)

	info := "/v1/oauth/userinfo"
	check("userinfo without a token", s.Do(http.MethodGet, info, "", nil), http.StatusUnauthorized, "invalid_token", bearer)
	r := s.Do(http.MethodGet, info, "not-a-token", nil)
	check("userinfo with an inactive token", r, http.StatusUnauthorized, "invalid_token", `Bearer error="invalid_token"`)
	r = s.Do(http.MethodGet, info, publicTok, nil)
	if ch := r.Header.Get("WWW-Authenticate"); r.Status != http.StatusForbidden || bodyError(r) != "insufficient_scope" ||
		!strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="openid"`) {
		t.Errorf("userinfo with a token without openid: %d %q WWW-Authenticate %q", r.Status, bodyError(r), ch)
	}
}
