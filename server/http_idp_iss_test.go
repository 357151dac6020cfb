package server_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestIdPAuthorizationResponseIss: RFC 9207 (and RFC 9700 §4.4.2
// against mix-up): discovery says authorization_response_iss_parameter_supported
// true, and every answer of the authorization endpoint at the client's
// redirect URI carries iss, the issuer, once: the code (with the redirect
// URI's own query kept), and each error, in the query (access_denied,
// login_required, unsupported_response_type, without a state when the
// request had none), in the fragment of a refused response_mode=fragment,
// and as a field of the page of a refused response_mode=form_post.
func TestIdPAuthorizationResponseIss(t *testing.T) {
	s := servertest.New(t)
	var meta map[string]any
	want(t, s.Do(http.MethodGet, "/.well-known/openid-configuration", "", nil), http.StatusOK).JSON(t, &meta)
	if v := meta["authorization_response_iss_parameter_supported"]; v != true {
		t.Errorf("discovery authorization_response_iss_parameter_supported = %v, want true", v)
	}
	rp, b, verifier, q := signedIn(t, s, "http://127.0.0.1:9/cb?tenant=acme")
	if q["iss"] == nil || len(q["iss"]) != 1 || q.Get("iss") != s.URL || q.Get("tenant") != "acme" || q.Get("code") == "" {
		t.Fatalf("the code's redirect: %v, want iss %s once, the code and the URI's own tenant=acme", q, s.URL)
	}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, http.DefaultClient)
	if _, err := rp.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("exchange: %v", err)
	}
	pkce := oauth2.S256ChallengeOption(verifier)
	errorAt := func(what, wantErr string, q url.Values) {
		t.Helper()
		if q.Get("error") != wantErr || len(q["iss"]) != 1 || q.Get("iss") != s.URL {
			t.Errorf("%s: %v, want %s with iss %s", what, q, wantErr, s.URL)
		}
	}
	q = newBrowser(t).signIn(s, rp.cfg.AuthCodeURL("state-0123456789", pkce, oauth2.SetAuthURLParam("prompt", "consent")), "ada@example.com", false)
	errorAt("denied", "access_denied", q)
	res, body := newBrowser(t).get(rp.cfg.AuthCodeURL("", pkce, oauth2.SetAuthURLParam("prompt", "none")))
	q = callbackQuery(t, res, body)
	errorAt("prompt=none without a session, no state", "login_required", q)
	if q.Has("state") {
		t.Errorf("prompt=none without a state: %v carries a state", q)
	}
	res, body = b.get(rp.cfg.AuthCodeURL("state-0123456789", pkce, oauth2.SetAuthURLParam("response_type", "token")))
	errorAt("response_type=token", "unsupported_response_type", callbackQuery(t, res, body))

	res, _ = b.get(rp.cfg.AuthCodeURL("state-0123456789", pkce, oauth2.SetAuthURLParam("response_mode", "fragment")))
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || loc.RawQuery != "tenant=acme" {
		t.Fatalf("response_mode=fragment: %q, want the error in the fragment", res.Header.Get("Location"))
	}
	frag, _ := url.ParseQuery(loc.EscapedFragment())
	errorAt("response_mode=fragment", "unsupported_response_mode", frag)
	if frag.Get("state") != "state-0123456789" {
		t.Errorf("response_mode=fragment: %v, want the state", frag)
	}

	res, body = b.get(rp.cfg.AuthCodeURL("state-0123456789", pkce, oauth2.SetAuthURLParam("response_mode", "form_post")))
	fields := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		fields.Add(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `action="http://127.0.0.1:9/cb?tenant=acme"`) {
		t.Fatalf("response_mode=form_post: %d %s, want the form to the redirect URI", res.StatusCode, body)
	}
	errorAt("response_mode=form_post", "unsupported_response_mode", fields)
}
