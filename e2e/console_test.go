package e2e

import (
	"context"
	_ "embed"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The admin console (package console) in a real browser: headless
// Chromium through chromedp against the real binary. Every page is
// audited with axe-core (vendored: e2e/testdata/axe, MPL-2.0), injected
// by the test, and fails on a serious or critical violation; every page
// is photographed when GATEHOUSE_SCREENSHOTS names a directory
// (docs/screenshots for the README).

//go:embed testdata/axe/axe.min.js
var axeSource string

// consolePerson is a user of the console tests.
type consolePerson struct{ id, email string }

// consoleUser creates a user with roles through the API.
func consoleUser(t *testing.T, a *api, role string) consolePerson {
	t.Helper()
	email := role + "-" + strings.ToLower(rand6(t)) + "@example.com"
	r := a.call(http.MethodPost, "/v1/platform/users", map[string]any{"email": email, "name": "Console " + role, "password": browserPassword,
		"roles": []string{role}})
	if r.Status != http.StatusCreated {
		t.Fatalf("user %s: %s", role, r)
	}
	var u struct {
		ID string `json:"id"`
	}
	r.decode(t, &u)
	return consolePerson{id: u.ID, email: email}
}

// consoleSignIn opens a console page without a session, is sent to the
// login page, signs in and lands back on the page.
func consoleSignIn(t *testing.T, bctx context.Context, base string, who consolePerson) {
	t.Helper()
	err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/console/apps"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), who.email),
		chromedp.SendKeys(chromedp.CSS(`#password`), browserPassword),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`header nav`)),
	)
	if err != nil {
		t.Fatalf("sign in as %s: %v", who.email, err)
	}
	loc, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil || !strings.HasSuffix(loc, "/console/apps") {
		t.Fatalf("after sign-in at %q (%v), want the console's apps page", loc, err)
	}
}

// audit runs axe-core on the page and fails on any serious or critical
// violation; then photographs it as name.
func audit(t *testing.T, bctx context.Context, name string) {
	t.Helper()
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](axeSource+";true")); err != nil {
		t.Fatalf("%s: inject axe-core: %v", name, err)
	}
	const run = `axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(r.violations))`
	out, err := chromedp.Run(bctx, chromedp.Evaluate[string](run, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: axe.run: %v", name, err)
	}
	var violations []struct {
		ID     string `json:"id"`
		Impact string `json:"impact"`
		Help   string `json:"help"`
		Nodes  []struct {
			Target []any `json:"target"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &violations); err != nil {
		t.Fatalf("%s: axe answer %q: %v", name, out, err)
	}
	for _, v := range violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Errorf("%s: accessibility violation %s (%s): %s at %v", name, v.ID, v.Impact, v.Help, v.Nodes)
		}
	}
	screenshot(t, bctx, name)
	t.Logf("audited %s", name)
}

// text is the visible text of the first element sel matches.
func text(t *testing.T, bctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// reloadUntil reloads the page until cond holds on main's text.
func reloadUntil(t *testing.T, bctx context.Context, what string, cond func(main string) bool) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := chromedp.Do(bctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`main h1`))); err != nil {
			t.Fatalf("reload: %v", err)
		}
		if m := text(t, bctx, `main`); cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestConsole walks the console as two tenant admins and a member: sign
// in, create an app (its secret shown once), rotate its secret, approve
// its scope with a quorum of two admins, follow a failing webhook's
// attempts and retry it, read the catalog, users and audit feed; a
// member is refused every admin page and action.
func TestConsole(t *testing.T) {
	t.Parallel()
	s := startServer(t, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"), withEnv("WEBHOOK_RETRY_SCHEDULE", "200ms"), withEnv("WEBHOOK_TIMEOUT", "2s"))
	a := adminAPI(t, s)
	admin1, admin2, member := consoleUser(t, a, "admin"), consoleUser(t, a, "admin"), consoleUser(t, a, "member")
	quorum := scopeName("console")
	a.defineScope(map[string]any{"name": quorum, "description": "Write support cases", "requires_approval": true, "approvals_required": 2})

	// A failing webhook of an app the admins may manage (its scopes are
	// all tenant-admin scopes), subscribed to app.created: the app the
	// console creates below makes its deliveries.
	hooksApp := a.createApp(map[string]any{"name": uniqueName(t, "hooks"), "requested_scopes": []string{"webhooks:read", "webhooks:write", "platform:apps:read"}})
	for _, sc := range []string{"webhooks:read", "webhooks:write", "platform:apps:read"} {
		if r := a.call(http.MethodPost, "/v1/platform/apps/"+hooksApp.ID+"/scope-decisions", map[string]any{"scope": sc, "decision": "approve"}); r.Status != http.StatusOK {
			t.Fatalf("approve %s: %s", sc, r)
		}
	}
	rcv := newReceiver(t)
	rcv.mu.Lock()
	rcv.answer = func(int, string) (int, http.Header) { return http.StatusInternalServerError, nil }
	rcv.mu.Unlock()
	hooks := a.as(a.mint(appCreds(hooksApp)).AccessToken)
	hook := hooks.subscribe(rcv.srv.URL, "app.created")
	rcv.setSecrets(hook.Secret)

	// Admin 1 signs in and creates an app; an empty name first: the API's
	// problem detail shows next to the field.
	b1 := chromium(t)
	consoleSignIn(t, b1, s.URL, admin1)
	audit(t, b1, "console-apps")
	appName := uniqueName(t, "console")
	err := chromedp.Do(b1,
		chromedp.Navigate(s.URL+"/console/apps/new"),
		chromedp.WaitVisible(chromedp.CSS(`#name`)),
		chromedp.SendKeys(chromedp.CSS(`#requested_scopes`), quorum),
		chromedp.Click(chromedp.CSS(`form[action="/console/apps"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#name-error`)),
	)
	if err != nil {
		t.Fatalf("create with no name: %v", err)
	}
	if msg := text(t, b1, `#name-error`); msg == "" {
		t.Fatal("no message next to the name field")
	}
	audit(t, b1, "console-app-new")
	err = chromedp.Do(b1,
		chromedp.SendKeys(chromedp.CSS(`#name`), appName),
		chromedp.Click(chromedp.CSS(`form[action="/console/apps"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)),
	)
	if err != nil {
		m, _ := chromedp.Run(b1, chromedp.Text(chromedp.CSS(`main`)))
		t.Fatalf("create app: %v; page: %q", err, m)
	}
	secret, err := chromedp.Run(b1, chromedp.Value(chromedp.CSS(`#secret`)))
	if err != nil || !strings.HasPrefix(secret, "ghcs_") {
		t.Fatalf("the secret shown once: %q %v", secret, err)
	}
	audit(t, b1, "console-app-created")
	var app appView
	for _, it := range a.listAll(500) {
		if it.Name == appName {
			app = it
		}
	}
	if app.ID == "" || len(app.Secrets) != 1 {
		t.Fatalf("the console's app is not in the API: %+v", app)
	}
	// The secret works at the token endpoint.
	a.mint(credentials{app.ClientID, secret, appCreds(app).style})

	// Rotate the secret with a grace period: the old one keeps working
	// until then.
	err = chromedp.Do(b1,
		chromedp.Click(chromedp.CSS(`main a[href="/console/apps/`+app.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#grace`)),
		chromedp.SetValue(chromedp.CSS(`#grace`), "3600"),
		chromedp.Click(chromedp.CSS(`form[action="/console/apps/`+app.ID+`/secrets"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#secret`)),
	)
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	rotated, err := chromedp.Run(b1, chromedp.Value(chromedp.CSS(`#secret`)))
	if err != nil || !strings.HasPrefix(rotated, "ghcs_") || rotated == secret {
		t.Fatalf("rotated secret %q %v", rotated, err)
	}
	if m := text(t, b1, `main`); !strings.Contains(m, "keep working until") {
		t.Fatalf("rotation page: %q", m)
	}
	audit(t, b1, "console-secret-rotated")
	a.mint(credentials{app.ClientID, rotated, appCreds(app).style})
	a.mint(credentials{app.ClientID, secret, appCreds(app).style}) // within its grace

	// Admin 1 approves the quorum scope: 1 of 2.
	err = chromedp.Do(b1,
		chromedp.Navigate(s.URL+"/console/apps/"+app.ID),
		chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Approve `+quorum+`"]`)),
		chromedp.SendKeys(chromedp.CSS(`#reason-scope-0`), "first approval"),
		chromedp.Click(chromedp.CSS(`button[aria-label="Approve `+quorum+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
	)
	if err != nil {
		t.Fatalf("first approval: %v", err)
	}
	if q := text(t, b1, `#scopes + .table-wrap .quorum`); q != "1 of 2 approvals" {
		t.Fatalf("quorum progress %q, want 1 of 2", q)
	}
	if m := text(t, b1, `#scopes + .table-wrap`); !strings.Contains(m, admin1.id) || !strings.Contains(m, "pending") {
		t.Fatalf("scopes after one approval: %q", m)
	}
	audit(t, b1, "console-app")

	// Admin 2, in another browser, completes the quorum.
	b2 := chromium(t)
	consoleSignIn(t, b2, s.URL, admin2)
	err = chromedp.Do(b2,
		chromedp.Navigate(s.URL+"/console/apps/"+app.ID),
		chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Approve `+quorum+`"]`)),
		chromedp.Click(chromedp.CSS(`button[aria-label="Approve `+quorum+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
	)
	if err != nil {
		t.Fatalf("second approval: %v", err)
	}
	if q := text(t, b2, `#scopes + .table-wrap .quorum`); q != "2 of 2 approvals" {
		t.Fatalf("quorum progress %q, want 2 of 2", q)
	}
	// On a laptop window (780 px): the scope table fits without
	// scrolling (its action column whole), a scope name is not broken a
	// letter a line, and "Created by" names the admin, not an id.
	err = chromedp.Do(b2, chromedp.EmulateViewport(780, 900), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#scopes`)))
	if err != nil {
		t.Fatalf("780 px viewport: %v", err)
	}
	const measure780 = `(() => { const w = document.querySelector("#scopes + .table-wrap"); const c = w.querySelector("td code");
		return JSON.stringify({scroll: w.scrollWidth, client: w.clientWidth, code: c.getBoundingClientRect().height, font: parseFloat(getComputedStyle(c).fontSize),
			cols: [...w.querySelectorAll("tbody tr:first-child td")].map(td => Math.round(td.getBoundingClientRect().width))}); })()`
	m780, err := chromedp.Run(b2, chromedp.Evaluate[string](measure780))
	if err != nil {
		t.Fatalf("780 px: %v", err)
	}
	var at780 struct {
		Scroll, Client int
		Code, Font     float64
		Cols           []int
	}
	if err := json.Unmarshal([]byte(m780), &at780); err != nil || at780.Scroll > at780.Client || at780.Code >= 2.5*at780.Font {
		t.Fatalf("at 780 px the scope table is clipped or a scope name wraps per letter: %s (%v)", m780, err)
	}
	if m := text(t, b2, `main dl`); !strings.Contains(m, admin1.email) || strings.Contains(m, admin1.id) {
		t.Fatalf("Created by: %q, want admin 1's e-mail", m)
	}
	audit(t, b2, "console-app-780")
	// On a phone (390 px): one column, nothing wider than the screen
	// (tables scroll inside their own box).
	err = chromedp.Do(b2, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#scopes`)))
	if err != nil {
		t.Fatalf("phone viewport: %v", err)
	}
	if fits, err := chromedp.Run(b2, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)); err != nil || !fits {
		t.Fatalf("the app page is wider than a phone's screen (%v)", err)
	}
	audit(t, b2, "console-app-phone")

	var got struct {
		Scopes []appScope `json:"scopes"`
	}
	a.call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil).decode(t, &got)
	if len(got.Scopes) != 1 || got.Scopes[0].Status != "approved" || !slices.Contains(got.Scopes[0].Approvals, admin1.id) ||
		!slices.Contains(got.Scopes[0].Approvals, admin2.id) {
		t.Fatalf("the API's scope after the quorum: %+v", got.Scopes)
	}

	// The failing webhook: its deliveries of app.created, each attempt's
	// status code, duration and answer; a retry once the receiver is back.
	err = chromedp.Do(b1,
		chromedp.Navigate(s.URL+"/console/webhooks"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/console/webhooks/`+hook.ID+`"]`)),
	)
	if err != nil {
		t.Fatalf("webhooks page: %v", err)
	}
	audit(t, b1, "console-webhooks")
	if err := chromedp.Do(b1, chromedp.Click(chromedp.CSS(`a[href="/console/webhooks/`+hook.ID+`"]`)), chromedp.WaitVisible(chromedp.CSS(`#deliveries`))); err != nil {
		t.Fatalf("webhook page: %v", err)
	}
	reloadUntil(t, b1, "a failed delivery", func(m string) bool { return strings.Contains(m, "failed") })
	code := text(t, b1, `.delivery .attempt .code`)
	if code != "500" {
		t.Fatalf("attempt status code %q, want 500", code)
	}
	audit(t, b1, "console-webhook")
	rcv.mu.Lock()
	rcv.answer = nil
	rcv.mu.Unlock()
	before := len(rcv.received())
	err = chromedp.Do(b1,
		chromedp.Click(chromedp.CSS(`.delivery button[aria-label^="Retry now"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)),
	)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	waitFor(t, 30*time.Second, "the retried delivery", func() bool { return len(rcv.received()) > before })
	reloadUntil(t, b1, "the delivery delivered", func(m string) bool { return strings.Contains(m, "delivered") })

	// An app's edit form, catalog, users, audit feed (filtered by type and
	// actor: the last, its rows are checked below).
	for _, pg := range []struct{ path, name, want string }{
		{"/console/apps/" + app.ID + "/edit", "console-app-edit", "Grant types"},
		{"/console/catalog", "console-catalog", quorum},
		{"/console/users", "console-users", admin2.email},
		{"/console/audit?type=app.scope.approved&actor=" + admin2.id, "console-audit", "app.scope.approved"},
	} {
		if err := chromedp.Do(b1, chromedp.Navigate(s.URL+pg.path), chromedp.WaitVisible(chromedp.CSS(`main h1`))); err != nil {
			t.Fatalf("%s: %v", pg.path, err)
		}
		if m := text(t, b1, `main`); !strings.Contains(m, pg.want) {
			t.Fatalf("%s does not show %q: %q", pg.path, pg.want, m)
		}
		audit(t, b1, pg.name)
	}
	if m := text(t, b1, `main tbody`); strings.Contains(m, admin1.id) {
		t.Fatalf("the audit filtered by admin 2 shows admin 1: %q", m)
	}

	// A member: the catalog reads, admin pages and actions are refused
	// with the API's own 403.
	b3 := chromium(t)
	consoleMember(t, b3, s.URL, member)
	resp, err := chromedp.Run(b3, chromedp.NavigateResponse(s.URL+"/console/apps/"+app.ID))
	if err != nil || resp.Status != int64(http.StatusForbidden) {
		t.Fatalf("member on an app page: %v %v", resp, err)
	}
	if m := text(t, b3, `main`); !strings.Contains(m, "platform:apps:read") {
		t.Fatalf("member refusal: %q", m)
	}
	audit(t, b3, "console-refused")
	// The member forges the approval form (their page's CSRF token, a
	// real form post): the API refuses, nothing changes.
	forge := `(() => { const f = document.createElement("form"); f.method = "post"; f.action = "/console/apps/` + app.ID + `/decisions";
	for (const [k, v] of Object.entries({csrf_token: document.querySelector("input[name=csrf_token]").value, kind: "scope", value: "` + quorum + `", decision: "revoke", idempotency_key: "member-forge"})) {
	const i = document.createElement("input"); i.type = "hidden"; i.name = k; i.value = v; f.appendChild(i); }
	document.body.appendChild(f); f.submit(); return true; })()`
	if err := chromedp.Do(b3, chromedp.Navigate(s.URL+"/console/catalog"), chromedp.WaitVisible(chromedp.CSS(`main h1`))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(b3, chromedp.Evaluate[bool](forge)); err != nil {
		t.Fatalf("member form: %v", err)
	}
	if err := chromedp.Do(b3, chromedp.WaitVisible(chromedp.CSS(`main p.error`))); err != nil {
		t.Fatalf("member decision: %v", err)
	}
	if m := text(t, b3, `main`); !strings.Contains(m, "platform:scopes:approve") {
		t.Fatalf("member decision refusal: %q", m)
	}
	a.call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil).decode(t, &got)
	if got.Scopes[0].Status != "approved" {
		t.Fatalf("a member's refused revoke changed the scope: %+v", got.Scopes)
	}

	// Admin 2 in a browser of its own (each browser has a 90 s budget).
	b4 := chromium(t)
	consoleSignIn(t, b4, s.URL, admin2)
	// The console's session is not a script's: its cookie is HttpOnly.
	if has, err := chromedp.Run(b4, chromedp.Evaluate[bool](`document.cookie.includes("gh_console")`)); err != nil || has {
		t.Fatalf("a script reads the console session cookie (%v)", err)
	}
	// Users: create one (a refused password first, by its field), make
	// them an admin, disable them.
	newEmail := "made-" + strings.ToLower(rand6(t)) + "@example.com"
	err = chromedp.Do(b4, chromedp.Navigate(s.URL+"/console/users/new"), chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), newEmail), chromedp.SendKeys(chromedp.CSS(`#name`), "Made Here"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "short"), chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`#password-error`)))
	if err != nil {
		t.Fatalf("a refused new user: %v", err)
	}
	audit(t, b4, "console-user-new")
	err = chromedp.Do(b4, chromedp.SetValue(chromedp.CSS(`#password`), browserPassword), chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if err != nil {
		t.Fatalf("new user: %v", err)
	}
	if m := text(t, b4, `main`); !strings.Contains(m, newEmail+" created") || !strings.Contains(m, "member") {
		t.Fatalf("the new user's page: %q", m)
	}
	err = chromedp.Do(b4, chromedp.SetValue(chromedp.CSS(`#role`), "admin"), chromedp.Submit(chromedp.CSS(`#role`)),
		chromedp.WaitVisible(chromedp.CSS(`.notice`)))
	if err != nil {
		t.Fatalf("set role: %v", err)
	}
	if m := text(t, b4, `main`); !strings.Contains(m, "Role set: admin") {
		t.Fatalf("after the role change: %q", m)
	}
	err = chromedp.Do(b4, chromedp.Click(chromedp.CSS(`form[action$="/disable"] button`)), chromedp.WaitVisible(chromedp.CSS(`form[action$="/enable"]`)))
	if err != nil {
		t.Fatalf("disable: %v", err)
	}
	audit(t, b4, "console-user")
	// The flash was shown once: a reload shows no notice.
	if err := chromedp.Do(b4, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`main h1`))); err != nil {
		t.Fatal(err)
	}
	if n, err := chromedp.Run(b4, chromedp.Evaluate[int](`document.querySelectorAll(".notice").length`)); err != nil || n != 0 {
		t.Fatalf("the notice is shown again after a reload (%d, %v)", n, err)
	}

	// Sign-out ends the console session and the sign-in: the console
	// asks for the password again.
	err = chromedp.Do(b4, chromedp.Click(chromedp.CSS(`.signout button`)), chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.Navigate(s.URL+"/console/apps"), chromedp.WaitVisible(chromedp.CSS(`#email`)))
	if err != nil {
		t.Fatalf("sign out: %v", err)
	}
}

// consoleMember signs the member in and checks the catalog reads.
func consoleMember(t *testing.T, bctx context.Context, base string, who consolePerson) {
	t.Helper()
	err := chromedp.Do(bctx,
		chromedp.Navigate(base+"/login?return_to=/console/catalog"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), who.email),
		chromedp.SendKeys(chromedp.CSS(`#password`), browserPassword),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`#event-types`)),
	)
	if err != nil {
		t.Fatalf("member sign-in: %v", err)
	}
	if m := text(t, bctx, `header`); !strings.Contains(m, "member") {
		t.Fatalf("member header: %q", m)
	}
}
