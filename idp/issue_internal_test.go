package idp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"
)

// TestRedirectCodeIsFosites: the code's redirect is byte for byte what
// fosite's WriteAuthorizeResponse wrote for the explicit-grant handler's
// parameters (code, state, scope) and iss (RFC 9207), whatever the
// redirect URI's own query,
// the state and the scopes; an empty state (a request that relied on
// PKCE) is left out, where fosite would write "state=".
func TestRedirectCodeIsFosites(t *testing.T) {
	const code, iss = "ory_ac_Zm9vYmFy-_.c2lnbmF0dXJl", "https://id.example.com:8443/gatehouse"
	for _, redirect := range []string{"http://127.0.0.1:9/callback", "https://rp.example.com/cb?x=1&a=b%20c&code=old",
		"com.example.app:/oauth2redirect", "http://[::1]:5000/cb?"} {
		for _, state := range []string{"", "state-0123456789", "s p&=/?é+%"} {
			for _, scopes := range [][]string{nil, {"openid"}, {"openid", "offline_access", "cases:read"}} {
				request := func() *fosite.AuthorizeRequest {
					u, err := url.Parse(redirect)
					if err != nil {
						t.Fatal(err)
					}
					ar := fosite.NewAuthorizeRequest()
					ar.RedirectURI, ar.State = u, state
					for _, s := range scopes {
						ar.GrantScope(s)
					}
					return ar
				}
				resp := &fosite.AuthorizeResponse{Header: http.Header{}, Parameters: url.Values{}}
				resp.AddParameter("code", code)
				resp.AddParameter("iss", iss)
				if state != "" {
					resp.AddParameter("state", state)
				}
				resp.AddParameter("scope", strings.Join(scopes, " "))
				want := httptest.NewRecorder()
				(&fosite.Fosite{Config: &fosite.Config{}}).WriteAuthorizeResponse(context.Background(), want, request(), resp)

				got := httptest.NewRecorder()
				if err := redirectCode(echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), got), request(), code, iss); err != nil {
					t.Fatal(err)
				}
				if got.Code != want.Code || got.Header().Get("Location") != want.Header().Get("Location") {
					t.Errorf("%s, state %q, scopes %q: %d %q, fosite wrote %d %q", redirect, state, scopes,
						got.Code, got.Header().Get("Location"), want.Code, want.Header().Get("Location"))
				}
			}
		}
	}
}
