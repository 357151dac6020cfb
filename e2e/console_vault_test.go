package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleVault walks the console's vault pages as a tenant admin in
// Chromium against the real binary, the server being its own provider
// (a custom client_credentials credential pointing at its own token
// endpoint): the credential in the list with its health and the
// dashboard's counts, a forced refresh (a new version appears), a
// rollback to the first version (the API's current version changes), an
// approval activity approved from its page, and an authorization_code
// credential authorized against a second Gatehouse from its Authorize
// button (sign-in and consent there, back to the vault's callback). Every page passes the
// axe-core audit.
func TestConsoleVault(t *testing.T) {
	t.Parallel()
	s := startServer(t, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"))
	watchUpstreamTokens(s)
	a := adminAPI(t, s)
	admin := consoleUser(t, a, "admin")
	up := a.createApp(map[string]any{"name": uniqueName(t, "provider")})
	credName := "console_" + strings.ToLower(rand6(t))
	r := a.call(http.MethodPost, "/v1/credentials", map[string]any{"name": credName, "provider": "custom", "grant_type": "client_credentials",
		"client_id": up.ClientID, "client_secret": up.ClientSecret, "token_url": s.URL + "/v1/oauth/token", "scopes": []string{}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create credential: %s", r)
	}
	var cred credentialView
	r.decode(t, &cred)
	versions := func() []credentialVersion {
		t.Helper()
		var vs struct {
			Items []credentialVersion `json:"items"`
		}
		r := a.call(http.MethodGet, "/v1/credentials/"+cred.ID+"/versions", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("versions: %s", r)
		}
		r.decode(t, &vs)
		return vs.Items
	}
	if vs := versions(); len(vs) != 1 || !vs[0].Current {
		t.Fatalf("versions after create: %+v", vs)
	}

	// A second Gatehouse is the provider of an interactive credential
	// (authorization_code): its app returns to this server's callback.
	upstream := startServer(t)
	ua := adminAPI(t, upstream)
	upApp := createCodeApp(t, ua, s.URL+"/v1/credentials/callback")
	upPerson := newPerson(t, ua)
	r = a.call(http.MethodPost, "/v1/credentials", map[string]any{"name": credName + "_code", "provider": "custom",
		"client_id": upApp.ClientID, "client_secret": upApp.ClientSecret, "auth_url": upstream.URL + "/v1/oauth/authorize",
		"token_url": upstream.URL + "/v1/oauth/token", "scopes": []string{"openid", "offline_access", "cases:read"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create interactive credential: %s", r)
	}
	var code credentialView
	r.decode(t, &code)

	b := chromium(t)
	consoleSignIn(t, b, s.URL, admin)

	// The list: the credential, active, with its health; the dashboard
	// counts it and lists the pending one as needing attention.
	err := chromedp.Do(b,
		chromedp.Click(chromedp.CSS(`header nav a[href="/console/credentials"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/console/credentials/`+cred.ID+`"]`)),
	)
	if err != nil {
		t.Fatalf("vault page: %v", err)
	}
	row := text(t, b, `tr.credential:has(a[href="/console/credentials/`+cred.ID+`"])`)
	if !strings.Contains(row, credName) || !strings.Contains(row, "active") || !strings.Contains(row, "UTC") {
		t.Fatalf("the credential's row: %q", row)
	}
	if n := text(t, b, `.count-active .n`); n != "1" {
		t.Fatalf("active count %q, want 1", n)
	}
	if n := text(t, b, `.count-pending_authorization .n`); n != "1" {
		t.Fatalf("pending count %q, want 1", n)
	}
	if m := text(t, b, `#attention + .table-wrap`); !strings.Contains(m, credName+"_code") || strings.Contains(m, credName+"\n") {
		t.Fatalf("needing attention: %q", m)
	}
	audit(t, b, "console-credentials")

	// The detail: health and one version; force a refresh: a second
	// version, current.
	err = chromedp.Do(b,
		chromedp.Click(chromedp.CSS(`a[href="/console/credentials/`+cred.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#versions`)),
	)
	if err != nil {
		t.Fatalf("credential page: %v", err)
	}
	if st := text(t, b, `#cred-status`); st != "active" {
		t.Fatalf("status %q", st)
	}
	audit(t, b, "console-credential")
	err = chromedp.Do(b,
		chromedp.Click(chromedp.CSS(`form[action="/console/credentials/`+cred.ID+`/refresh"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
	)
	if err != nil {
		t.Fatalf("force refresh: %v", err)
	}
	vs := versions()
	if len(vs) != 2 || vs[0].Version != 2 || !vs[0].Current || vs[0].Reason == "" {
		t.Fatalf("versions after the forced refresh: %+v", vs)
	}
	if got := text(t, b, `tr.version.current .n`); got != "2" {
		t.Fatalf("the page's current version %q, want 2", got)
	}
	if n := text(t, b, `#cred-attempts`); n == "0" {
		t.Fatalf("refresh attempts after a forced refresh: %q", n)
	}

	// Roll back to version 1 (from the page freshly loaded, no notice).
	err = chromedp.Do(b,
		chromedp.Navigate(s.URL+"/console/credentials/"+cred.ID),
		chromedp.WaitVisible(chromedp.CSS(`#versions`)),
		chromedp.Click(chromedp.CSS(`button[aria-label="Roll back to version 1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
	)
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if m := text(t, b, `.notice`); !strings.Contains(m, "version 1") {
		t.Fatalf("rollback notice %q", m)
	}
	if vs := versions(); len(vs) != 2 || vs[0].Current || !vs[1].Current || vs[1].Version != 1 {
		t.Fatalf("versions after the rollback: %+v", vs)
	}
	if got := text(t, b, `tr.version.current .n`); got != "1" {
		t.Fatalf("the page's current version %q, want 1", got)
	}
	audit(t, b, "console-credential-rolled-back")
	// The vault's pages on a phone (390 px): nothing wider than the
	// screen (tables scroll inside their own box).
	for _, pg := range []struct{ path, name string }{
		{"/console/credentials", "console-credentials-phone"},
		{"/console/credentials/" + cred.ID, "console-credential-phone"},
		{"/console/activities", "console-activities-phone"},
	} {
		err := chromedp.Do(b, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(s.URL+pg.path),
			chromedp.WaitVisible(chromedp.CSS(`main h1`)))
		if err != nil {
			t.Fatalf("%s on a phone: %v", pg.path, err)
		}
		if fits, err := chromedp.Run(b, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)); err != nil || !fits {
			t.Fatalf("%s is wider than a phone's screen (%v)", pg.path, err)
		}
		audit(t, b, pg.name)
	}
	if err := chromedp.Do(b, chromedp.EmulateReset()); err != nil {
		t.Fatal(err)
	}
	// An approval activity: creates need two admins; the admin app asks,
	// the console's admin approves and the credential exists.
	if r := a.call(http.MethodPut, "/v1/platform/approval-policies/credential_create", map[string]any{"approvals_required": 2}); r.Status != http.StatusOK {
		t.Fatalf("policy: %s", r)
	}
	r = a.call(http.MethodPost, "/v1/credentials", map[string]any{"name": credName + "_approved", "provider": "custom", "grant_type": "client_credentials",
		"client_id": up.ClientID, "client_secret": up.ClientSecret, "token_url": s.URL + "/v1/oauth/token", "scopes": []string{}})
	if r.Status != http.StatusAccepted {
		t.Fatalf("create under the policy: %s", r)
	}
	var act activityView
	r.decode(t, &act)
	err = chromedp.Do(b,
		chromedp.Navigate(s.URL+"/console/activities"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/console/activities/`+act.ID+`"]`)),
	)
	if err != nil {
		t.Fatalf("activities page: %v", err)
	}
	audit(t, b, "console-activities")
	err = chromedp.Do(b,
		chromedp.Click(chromedp.CSS(`a[href="/console/activities/`+act.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value=approve]`)),
	)
	if err != nil {
		t.Fatalf("activity page: %v", err)
	}
	if q := text(t, b, `dd .quorum`); q != "1 of 2 approvals" {
		t.Fatalf("quorum %q", q)
	}
	if m := text(t, b, `pre`); !strings.Contains(m, credName+"_approved") || strings.Contains(m, up.ClientSecret) {
		t.Fatalf("intent %q", m)
	}
	audit(t, b, "console-activity")
	err = chromedp.Do(b,
		chromedp.SendKeys(chromedp.CSS(`#reason`), "reviewed in the console"),
		chromedp.Click(chromedp.CSS(`button[value=approve]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
	)
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	if q := text(t, b, `dd .quorum`); q != "2 of 2 approvals" {
		t.Fatalf("quorum after approving %q", q)
	}
	if m := text(t, b, `#votes + .table-wrap`); !strings.Contains(m, admin.id) || !strings.Contains(m, "reviewed in the console") {
		t.Fatalf("votes %q", m)
	}
	r = a.call(http.MethodGet, "/v1/platform/activities/"+act.ID, nil)
	r.decode(t, &act)
	if act.Status != "completed" || len(act.Votes) != 2 {
		t.Fatalf("the API's activity after the console's approval: %s", r)
	}
	// Authorize (last: signing in at the provider on the same host may
	// replace the console's session cookie): the browser goes to the
	// provider, whose origin the page's form-action admits.
	err = chromedp.Do(b,
		chromedp.Navigate(s.URL+"/console/credentials/"+code.ID),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/console/credentials/`+code.ID+`/authorize"] button`)),
	)
	if err != nil {
		t.Fatalf("interactive credential page: %v", err)
	}
	if m := text(t, b, `form[action="/console/credentials/`+code.ID+`/authorize"] button`); !strings.HasPrefix(m, "Authorize") {
		t.Fatalf("authorize button %q", m)
	}
	audit(t, b, "console-credential-pending")
	err = chromedp.Do(b,
		chromedp.Click(chromedp.CSS(`form[action="/console/credentials/`+code.ID+`/authorize"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
	)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	loc, err := chromedp.Run(b, chromedp.Location())
	if err != nil || !strings.HasPrefix(loc, upstream.URL+"/") {
		t.Fatalf("after Authorize the browser is at %q (%v), want the provider", loc, err)
	}
	// The person signs in at the provider and consents; the provider
	// returns to the vault's callback, which stores the tokens.
	err = chromedp.Do(b,
		chromedp.SendKeys(chromedp.CSS(`#email`), upPerson.email),
		chromedp.SendKeys(chromedp.CSS(`#password`), browserPassword),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value=approve]`)),
		chromedp.Click(chromedp.CSS(`button[value=approve]`)),
		chromedp.WaitVisible(chromedp.CSS(`h1.ok`)),
	)
	if err != nil {
		t.Fatalf("sign in and consent at the provider: %v", err)
	}
	if loc, err := chromedp.Run(b, chromedp.Location()); err != nil || !strings.HasPrefix(loc, s.URL+"/v1/credentials/callback?") {
		t.Fatalf("after consent the browser is at %q (%v), want the vault's callback", loc, err)
	}
	var authorized credentialView
	a.call(http.MethodGet, "/v1/credentials/"+code.ID, nil).decode(t, &authorized)
	if authorized.Status != "active" || authorized.ExpiresAt == nil {
		t.Fatalf("the credential after the console's Authorize: %+v", authorized)
	}

}
