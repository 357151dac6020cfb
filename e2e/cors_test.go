package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// TestBrowserSinglePageApp: a single-page app in a real browser (headless
// Chromium) signs a person in with the code flow and PKCE as a public
// client, then, from its own origin (another port than the server's),
// reads the discovery document and the JWKS, redeems the code at the
// token endpoint, calls userinfo with the access token (a preflighted
// request: it sends Authorization) and revokes the refresh token, all with
// fetch: every answer must carry the CORS headers the browser asks for.
// The same page at an origin that is none of the app's redirect URIs'
// (localhost instead of 127.0.0.1) cannot read the token endpoint's
// answer: fetch fails.
func TestBrowserSinglePageApp(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	bctx := chromium(t)
	email := browserUser(t, a)
	app := createCodeAppWith(t, a, map[string]any{"token_endpoint_auth_method": "none"}, "http://127.0.0.1/spa")
	verifier := oauth2.GenerateVerifier()

	// The app's page: at /spa it finishes the sign-in with fetch calls
	// and writes what it read into #done.
	page := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/spa" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		cfg, _ := json.Marshal(map[string]string{"iss": s.URL, "client_id": app.ClientID, "verifier": verifier})
		fmt.Fprintf(w, `<!doctype html><title>spa</title><pre id="out"></pre><script>
const cfg = %s;
(async () => {
  const out = document.getElementById("out");
  const res = {};
  try {
    const q = new URLSearchParams(location.search);
    const meta = await (await fetch(cfg.iss + "/.well-known/openid-configuration")).json();
    res.keys = (await (await fetch(meta.jwks_uri)).json()).keys.length;
    const tr = await fetch(meta.token_endpoint, {method: "POST", body: new URLSearchParams({grant_type: "authorization_code",
      code: q.get("code") || "none", redirect_uri: location.origin.replace("localhost", "127.0.0.1") + "/spa",
      client_id: cfg.client_id, code_verifier: cfg.verifier})});
    res.token_status = tr.status;
    const tok = await tr.json();
    res.id_token = !!tok.id_token;
    const ui = await fetch(meta.userinfo_endpoint, {headers: {Authorization: "Bearer " + tok.access_token}});
    res.email = (await ui.json()).email;
    const rv = await fetch(meta.revocation_endpoint, {method: "POST", body: new URLSearchParams({client_id: cfg.client_id, token: tok.refresh_token})});
    res.revoke_status = rv.status;
  } catch (e) {
    res.error = String(e);
  }
  out.textContent = JSON.stringify(res);
  out.id = "done";
})();
</script>`, cfg)
	}
	spa := httptest.NewServer(http.HandlerFunc(page))
	t.Cleanup(spa.Close)

	// The redirect URI is http://127.0.0.1/spa: a loopback one, any port
	// (RFC 8252), so the page at 127.0.0.1:<port>/spa receives the code
	// and its origin may read the answers.
	cfg := &oauth2.Config{ClientID: app.ClientID, Endpoint: oauth2.Endpoint{AuthURL: s.URL + "/v1/oauth/authorize"},
		RedirectURL: spa.URL + "/spa", Scopes: []string{"openid", "offline_access", "cases:read"}}
	err := chromedp.Do(bctx, append(signInSteps(cfg.AuthCodeURL("state-"+rand6(t), oauth2.S256ChallengeOption(verifier)), email),
		chromedp.WaitReady(chromedp.CSS(`#done`)))...)
	if err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	got, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#done`)))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Keys         int    `json:"keys"`
		TokenStatus  int    `json:"token_status"`
		IDToken      bool   `json:"id_token"`
		Email        string `json:"email"`
		RevokeStatus int    `json:"revoke_status"`
		Error        string `json:"error"`
	}
	if err := json.Unmarshal([]byte(got), &res); err != nil {
		t.Fatalf("the page wrote %q: %v", got, err)
	}
	if res.Error != "" || res.Keys == 0 || res.TokenStatus != http.StatusOK || !res.IDToken || res.Email != email || res.RevokeStatus != http.StatusOK {
		t.Fatalf("the single-page app read %+v", res)
	}

	// Another origin: the same page served as localhost. Its fetch of the
	// public documents works, the token endpoint's answer is not for it.
	other := strings.Replace(spa.URL, "127.0.0.1", "localhost", 1) + "/spa?code=x"
	if err := chromedp.Do(bctx, chromedp.Navigate(other), chromedp.WaitReady(chromedp.CSS(`#done`))); err != nil {
		t.Fatal(err)
	}
	if got, err = chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`#done`))); err != nil {
		t.Fatal(err)
	}
	res.Error, res.Keys = "", 0
	if err := json.Unmarshal([]byte(got), &res); err != nil {
		t.Fatalf("the page wrote %q: %v", got, err)
	}
	if res.Keys == 0 || !strings.Contains(res.Error, "Failed to fetch") {
		t.Fatalf("from an origin that is not the app's: %q, want the JWKS read and the token fetch failed", got)
	}
}

// TestCORSPreflight: the preflights a browser sends before a request with
// Authorization (userinfo) or another non-simple header are answered 204
// for the endpoints browser apps call, naming the origin, the methods and
// the headers allowed.
func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s).as("")
	for path, methods := range map[string]string{"/v1/oauth/token": "POST", "/v1/oauth/revoke": "POST", "/v1/oauth/userinfo": "GET, POST"} {
		r := a.call(http.MethodOptions, path, nil, "Origin", "http://127.0.0.1:5173", "Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization")
		if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:5173" ||
			r.Header.Get("Access-Control-Allow-Methods") != methods || !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Errorf("preflight of %s: %d %v", path, r.Status, r.Header)
		}
	}
}
