package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// The identity provider in a real browser: headless Chromium (Debian
// package chromium) driven by chromedp against the real binary, with a
// relying party built on golang.org/x/oauth2 (PKCE) and go-oidc (ID
// token verification, nonce).

const browserPassword = "violet-harbour-lantern-42"

// chromium starts a headless Chromium for the test. A missing Chromium
// fails the test (scripts/services.sh, which .ci/run calls, installs it),
// unless the developer opted out of the services with
// GATEHOUSE_SKIP_SERVICES=1.
func chromium(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("GATEHOUSE_SKIP_SERVICES") == "1" {
			t.Skipf("chromium is not installed (GATEHOUSE_SKIP_SERVICES=1): %v", err)
		}
		t.Fatalf("chromium is not installed: %v (apt-get install -y chromium, or run scripts/services.sh)", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil { // starts the browser: no timeout on this first call
		cancel()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	tctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return tctx
}

// createCodeApp is the ONE place the e2e tests create an app of the code
// flow (grants authorization_code and refresh_token, a loopback redirect
// URI, scope cases:read approved without a decision): approvals of the
// grant and of the redirect URI belong here.
//
// pending redirect URIs are the app's too, but never approved: a request
// naming one must get the error page, never a redirect.
func createCodeApp(t *testing.T, a *api, redirect string, pending ...string) appView {
	t.Helper()
	return createCodeAppWith(t, a, nil, redirect, pending...)
}

// createCodeAppWith is createCodeApp with more fields of the app (e.g.
// token_endpoint_auth_method none: a public client).
func createCodeAppWith(t *testing.T, a *api, fields map[string]any, redirect string, pending ...string) appView {
	t.Helper()
	if r := a.call(http.MethodPost, "/v1/platform/scopes", map[string]any{"name": "cases:read", "description": "Read support cases",
		"requires_approval": false}); r.Status != http.StatusCreated && r.Status != http.StatusConflict {
		t.Fatalf("scope: %s", r)
	}
	body := map[string]any{"name": uniqueName(t, "rp"), "grant_types": []string{"authorization_code", "refresh_token"},
		"redirect_uris": append([]string{redirect}, pending...), "requested_scopes": []string{"cases:read"}}
	for k, v := range fields {
		body[k] = v
	}
	app := a.createApp(body)
	// The grant and the redirect URI take effect once approved (API.md
	// "Users and sign-in"); the bootstrap admin approves both.
	for _, body := range []map[string]any{
		{"grant_type": "authorization_code", "decision": "approve"},
		{"redirect_uri": redirect, "decision": "approve"},
	} {
		if r := a.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/scope-decisions", body); r.Status != http.StatusOK {
			t.Fatalf("decide %v: %s", body, r)
		}
	}
	return app
}

// browserUser creates a user of a's tenant with browserPassword and a
// fresh e-mail, which it returns.
func browserUser(t *testing.T, a *api) string {
	t.Helper()
	email := strings.ToLower(rand6(t)) + "@example.com"
	if r := a.call(http.MethodPost, "/v1/platform/users", map[string]any{"email": email, "name": "Ada Lovelace", "password": browserPassword}); r.Status != http.StatusCreated {
		t.Fatalf("user: %s", r)
	}
	return email
}

// signInSteps are a browser's steps from an authorization URL through
// the login page (email, browserPassword) to the consent page's Allow.
func signInSteps(authURL, email string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), browserPassword),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value=approve]`)),
		chromedp.Click(chromedp.CSS(`button[value=approve]`)),
	}
}

// screenshot saves the page (JPEG) for the README when GATEHOUSE_SCREENSHOTS
// names a directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("GATEHOUSE_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".jpg"), png, 0o644); err != nil {
		t.Error(err)
	}
}

func TestBrowserSignIn(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	bctx := chromium(t)
	email := browserUser(t, a)
	app := createCodeApp(t, a, "http://127.0.0.1/callback")

	// The relying party: a loopback callback on any port (RFC 8252).
	got := make(chan string, 4)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r) // the browser's /favicon.ico
			return
		}
		got <- r.URL.RawQuery
		_, _ = w.Write([]byte("<!doctype html><title>callback</title><h1>Back at the app</h1>"))
	}))
	t.Cleanup(rp.Close)
	ctx := oidc.ClientContext(oauthContext(t, a.hc), a.hc)
	provider, err := oidc.NewProvider(ctx, s.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	cfg := &oauth2.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, Endpoint: provider.Endpoint(),
		RedirectURL: rp.URL + "/callback", Scopes: []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "profile", "email", "cases:read"}}
	verifier := oauth2.GenerateVerifier()
	nonce := rand6(t)

	// Login: a wrong password first (the one generic message), then the
	// right one; consent; the callback.
	err = chromedp.Do(bctx,
		chromedp.Navigate(cfg.AuthCodeURL("state-"+nonce, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), "not the password 123"),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`[role=alert]`)),
	)
	if err != nil {
		t.Fatalf("login page: %v", err)
	}
	alert, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`[role=alert]`)))
	if err != nil || alert != "Email or password is incorrect." {
		t.Fatalf("wrong password: %q %v", alert, err)
	}
	screenshot(t, bctx, "login")
	err = chromedp.Do(bctx,
		chromedp.SetValue(chromedp.CSS(`#password`), browserPassword),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value=approve]`)),
	)
	if err != nil {
		t.Fatalf("consent page: %v", err)
	}
	consent, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`main`)))
	if err != nil || !strings.Contains(consent, "Read support cases") {
		t.Fatalf("consent page text %q %v", consent, err)
	}
	screenshot(t, bctx, "consent")
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`button[value=approve]`)), chromedp.WaitVisible(chromedp.CSS(`h1`))); err != nil {
		t.Fatalf("approve: %v", err)
	}
	var query string
	select {
	case query = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the browser never reached the callback")
	}
	vals, _ := urlQuery(query)
	if vals.Get("state") != "state-"+nonce || vals.Get("code") == "" {
		t.Fatalf("callback %q", query)
	}
	tok, err := cfg.Exchange(ctx, vals.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	// "openid profile email", most relying parties' default, is granted.
	if sc, _ := tok.Extra("scope").(string); !strings.Contains(" "+sc+" ", " profile ") || !strings.Contains(" "+sc+" ", " email ") {
		t.Fatalf("granted scope %q; want profile and email", sc)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: app.ClientID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil || idt.Nonce != nonce {
		t.Fatalf("ID token: %v (nonce %q)", err, idt)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || info.Email != email {
		t.Fatalf("userinfo: %+v %v", info, err)
	}
	tok.Expiry = time.Now().Add(-time.Minute)
	if next, err := cfg.TokenSource(ctx, tok).Token(); err != nil || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh: %v", err)
	}

	// A remembered consent: straight back to the callback.
	if err := chromedp.Do(bctx, chromedp.Navigate(cfg.AuthCodeURL("state-again", oauth2.S256ChallengeOption(verifier)))); err != nil {
		t.Fatal(err)
	}
	select {
	case query = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("a remembered consent was asked again")
	}
	if vals, _ := urlQuery(query); vals.Get("code") == "" {
		t.Fatalf("second sign-in: %q", query)
	}

	// Logout through the confirmation form; then the login page again.
	err = chromedp.Do(bctx,
		chromedp.Navigate(s.URL+"/logout"),
		chromedp.WaitVisible(chromedp.CSS(`form button`)),
		chromedp.Click(chromedp.CSS(`form button`)),
		chromedp.WaitVisible(chromedp.CSS(`#signed-out`)),
		chromedp.Navigate(cfg.AuthCodeURL("state-after", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
	)
	if err != nil {
		t.Fatalf("logout: %v", err)
	}
}

// TestBrowserCSRF: a login form posted without its CSRF token (a forged
// cross-site form) is refused.
func TestBrowserCSRF(t *testing.T) {
	t.Parallel()
	s := shared(t)
	bctx := chromium(t)
	err := chromedp.Do(bctx,
		chromedp.Navigate(s.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.RemoveAttribute(chromedp.CSS(`input[name=csrf_token]`), "name"), // the token is not sent
		chromedp.SendKeys(chromedp.CSS(`#email`), "ada@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), browserPassword),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`#message`)),
	)
	var status string
	if err == nil {
		status, err = chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`h1`)))
	}
	if err != nil || status != "Something went wrong" {
		t.Fatalf("login without CSRF token: %q %v", status, err)
	}
}

func rand6(t *testing.T) string {
	t.Helper()
	return strings.ToLower(uniqueName(t, "u")[len(uniqueName(t, "u"))-6:])
}

func urlQuery(q string) (url.Values, error) { return url.ParseQuery(q) }

// TestBrowserThrottleAndUnapprovedRedirect: in a real browser, against a
// server of its own that allows two failed sign-ins per account and
// address (GATEHOUSE_LOGIN_FAILURES=2, so that the shared server's
// address budget is not spent): the third wrong password gets the
// throttle's message, and then so does the right one; an authorization
// request naming a redirect URI of the app that no admin approved shows
// the error page on the server and never reaches that URI.
func TestBrowserThrottleAndUnapprovedRedirect(t *testing.T) {
	t.Parallel()
	s := startServer(t, withEnv("LOGIN_FAILURES", "2"))
	a := adminAPI(t, s)
	bctx := chromium(t)
	email := browserUser(t, a)
	var reached atomic.Int64
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/unapproved" {
			reached.Add(1)
		}
		_, _ = w.Write([]byte("<!doctype html><title>rp</title><h1>At the app</h1>"))
	}))
	t.Cleanup(rp.Close)
	app := createCodeApp(t, a, "http://127.0.0.1/callback", "http://127.0.0.1/unapproved")
	verifier := oauth2.GenerateVerifier()
	cfg := &oauth2.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret,
		Endpoint: oauth2.Endpoint{AuthURL: s.URL + "/v1/oauth/authorize", TokenURL: s.URL + "/v1/oauth/token"},
		Scopes:   []string{"openid", "cases:read"}}

	// The unapproved redirect URI (any loopback port matches it, RFC 8252).
	cfg.RedirectURL = rp.URL + "/unapproved"
	var heading, location string
	err := chromedp.Do(bctx,
		chromedp.Navigate(cfg.AuthCodeURL("state-unapproved", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`h1`)),
	)
	if err == nil {
		heading, err = chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`h1`)))
	}
	if err == nil {
		location, err = chromedp.Run(bctx, chromedp.Location())
	}
	if err != nil || heading != "Something went wrong" || !strings.HasPrefix(location, s.URL+"/") || reached.Load() != 0 {
		t.Fatalf("an unapproved redirect URI: page %q at %q, %d requests reached it, %v", heading, location, reached.Load(), err)
	}

	// Two wrong passwords are answered with the one generic message, the
	// third with the throttle's; the right one then waits out the window.
	cfg.RedirectURL = rp.URL + "/callback"
	err = chromedp.Do(bctx,
		chromedp.Navigate(cfg.AuthCodeURL("state-throttle", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
	)
	if err != nil {
		t.Fatalf("login page: %v", err)
	}
	for i, c := range []struct{ password, alert string }{
		{"not the password 123", "Email or password is incorrect."},
		{"not the password 456", "Email or password is incorrect."},
		{"not the password 789", "Too many failed sign-ins. Wait a few minutes, then try again."},
		{browserPassword, "Too many failed sign-ins. Wait a few minutes, then try again."},
	} {
		// The page answering this attempt is a new document: the one
		// submitted is marked, and the wait is for an unmarked page whose
		// alert is in (the same message twice must not be read off the
		// page before).
		_, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.dataset.submitted = "1"`))
		if err == nil {
			err = chromedp.Do(bctx,
				chromedp.SetValue(chromedp.CSS(`#email`), email),
				chromedp.SetValue(chromedp.CSS(`#password`), c.password),
				chromedp.Submit(chromedp.CSS(`#password`)),
				chromedp.WaitVisible(chromedp.CSS(`body:not([data-submitted]) [role=alert]`)),
			)
		}
		var alert string
		if err == nil {
			alert, err = chromedp.Run(bctx, chromedp.Text(chromedp.CSS(`body:not([data-submitted]) [role=alert]`)))
		}
		if err != nil || alert != c.alert {
			t.Fatalf("attempt %d: alert %q, want %q (%v)", i+1, alert, c.alert, err)
		}
	}
}
