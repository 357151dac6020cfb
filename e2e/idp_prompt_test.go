package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"
)

// TestBrowserPromptNoneAndTenants drives Chromium through prompt=none
// (OIDC Core §3.1.2.1) without a session (login_required at the
// callback, no page shown), then with one and a remembered consent (a
// code at once), and a person of tenant A on tenant B's app: their
// session does not count there (the login page, and login_required with
// prompt=none), and their password does not open tenant B (the one
// generic message).
func TestBrowserPromptNoneAndTenants(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	b := freshTenant(t, s, "tenant-b")
	bctx := chromium(t)
	email := browserUser(t, a)
	got := make(chan string, 8)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		got <- r.URL.RawQuery
		_, _ = w.Write([]byte("<!doctype html><title>callback</title><h1 id=cb>Back at the app</h1>"))
	}))
	t.Cleanup(rp.Close)
	appA := createCodeApp(t, a, "http://127.0.0.1/callback")
	appB := createCodeApp(t, b, "http://127.0.0.1/callback")
	cfg := func(app appView) *oauth2.Config {
		return &oauth2.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, RedirectURL: rp.URL + "/callback",
			Endpoint: oauth2.Endpoint{AuthURL: s.URL + "/v1/oauth/authorize", TokenURL: s.URL + "/v1/oauth/token"},
			Scopes:   []string{"openid", "cases:read"}}
	}
	verifier := oauth2.GenerateVerifier()
	none := oauth2.SetAuthURLParam("prompt", "none")
	callback := func(what string) map[string][]string {
		t.Helper()
		select {
		case q := <-got:
			v, _ := urlQuery(q)
			return v
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: the browser never reached the callback", what)
			return nil
		}
	}
	wantError := func(v map[string][]string, code, state, what string) {
		t.Helper()
		if len(v["error"]) != 1 || v["error"][0] != code || len(v["code"]) != 0 || len(v["state"]) != 1 || v["state"][0] != state {
			t.Fatalf("%s: callback %v, want error=%s with state %s and no code", what, v, code, state)
		}
	}

	// No session: prompt=none answers login_required, no page shown.
	if err := chromedp.Do(bctx, chromedp.Navigate(cfg(appA).AuthCodeURL("state-none-1", none, oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`#cb`))); err != nil {
		t.Fatal(err)
	}
	wantError(callback("prompt=none without a session"), "login_required", "state-none-1", "prompt=none without a session")

	// Sign in and consent on A's app.
	err := chromedp.Do(bctx, append(signInSteps(cfg(appA).AuthCodeURL("state-login", oauth2.S256ChallengeOption(verifier)), email),
		chromedp.WaitVisible(chromedp.CSS(`#cb`)))...)
	if err != nil {
		t.Fatalf("sign-in: %v (page: %s)", err, pageText(bctx))
	}
	if v := callback("sign-in"); len(v["code"]) != 1 {
		t.Fatalf("sign-in: callback %v", v)
	}

	// A session and a remembered consent: prompt=none gives a code at once.
	if err := chromedp.Do(bctx, chromedp.Navigate(cfg(appA).AuthCodeURL("state-none-2", none, oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`#cb`))); err != nil {
		t.Fatal(err)
	}
	if v := callback("prompt=none with a session"); len(v["code"]) != 1 || v["state"][0] != "state-none-2" || len(v["error"]) != 0 {
		t.Fatalf("prompt=none with a session: callback %v, want a code", v)
	}

	// Tenant B's app: A's session does not count there.
	if err := chromedp.Do(bctx, chromedp.Navigate(cfg(appB).AuthCodeURL("state-b-none", none, oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`#cb`))); err != nil {
		t.Fatal(err)
	}
	wantError(callback("tenant B's app, prompt=none"), "login_required", "state-b-none", "tenant B's app with tenant A's session, prompt=none")
	err = chromedp.Do(bctx,
		chromedp.Navigate(cfg(appB).AuthCodeURL("state-b-login", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), browserPassword),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`[role=alert]`)),
	)
	if err != nil {
		t.Fatalf("tenant B's login page: %v (page: %s)", err, pageText(bctx))
	}
	alert, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`[role=alert]`)))
	if err != nil || alert != "Email or password is incorrect." {
		t.Fatalf("tenant A's person on tenant B's login: %q %v", alert, err)
	}
	select {
	case q := <-got:
		t.Fatalf("tenant B's app reached its callback for tenant A's person: %s", q)
	default:
	}
}

// pageText is the browser's location and text, for a failure's message
// (a short timeout of its own: the test's may be spent).
func pageText(bctx context.Context) string {
	ctx, cancel := context.WithTimeout(bctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`body`)))
	return fmt.Sprint(loc) + ": " + fmt.Sprint(text)
}
