package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"sync"
)

// The console's figure (issue 18): pages/s of the admin console's apps
// list (GET /console/apps: the first page of 50 of the tenant's apps,
// rendered from an in-process GET /v1/platform/apps) with 1,000 apps in
// the tenant, as a signed-in tenant admin.

// consoleApps is how many apps the console scenario makes first.
const consoleApps = 1000

// prepareConsole creates the apps and an admin person, signs the person
// in through the login page and loads GET /console/apps with the session.
func prepareConsole(ctx context.Context, c *http.Client, cfg benchConfig) (target, error) {
	api, err := newBenchAPI(ctx, c, cfg)
	if err != nil {
		return target{}, fmt.Errorf("console: %w", err)
	}
	if err := seedConsoleApps(ctx, api, consoleApps); err != nil {
		return target{}, fmt.Errorf("console: creating the apps: %w", err)
	}
	email := "bench-admin-" + randomHex(4) + "@example.com"
	if _, err := api.call(ctx, http.MethodPost, "/v1/platform/users", map[string]any{"email": email, "name": "Bench Admin",
		"password": codePassword, "roles": []string{"admin"}}, 201); err != nil {
		return target{}, fmt.Errorf("console: the admin: %w", err)
	}
	cookie, err := consoleSignIn(ctx, c, cfg.URL, email)
	if err != nil {
		return target{}, fmt.Errorf("console: signing in: %w", err)
	}
	h := http.Header{"Cookie": {cookie}}
	return target{method: http.MethodGet, url: cfg.URL + "/console/apps", header: h, check: func(b []byte) bool {
		return bytes.Contains(b, []byte(`href="/console/apps/`)) && bytes.Contains(b, []byte(`rel="next"`))
	}}, nil
}

// seedConsoleApps creates n apps, 8 at a time.
func seedConsoleApps(ctx context.Context, api *benchAPI, n int) error {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				if _, err := api.call(ctx, http.MethodPost, "/v1/platform/apps", map[string]any{"name": fmt.Sprintf("console bench %s %04d", randomHex(3), i)}, 201); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	func() {
		defer close(next)
		for i := range n {
			select {
			case next <- i:
			case err := <-errs:
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// consoleSignIn posts the login form (return_to the console) with a
// cookie-keeping client, follows the console's code flow and returns the
// browser's cookies of the console's pages.
func consoleSignIn(ctx context.Context, c *http.Client, base, email string) (string, error) {
	b := newBrowser(c)
	res, page, err := b.send(ctx, http.MethodGet, base+"/login?return_to=/console/apps", nil)
	if err != nil {
		return "", err
	}
	csrf := codeCSRF.FindStringSubmatch(page)
	if csrf == nil {
		return "", fmt.Errorf("no form on the login page (%s)", res.Status)
	}
	form := url.Values{"csrf_token": {html.UnescapeString(csrf[1])}, "return_to": {"/console/apps"}, "email": {email}, "password": {codePassword}}
	res, _, err = b.send(ctx, http.MethodPost, base+"/login", form)
	if err != nil {
		return "", err
	}
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console/apps" {
		return "", fmt.Errorf("login: %s to %q, want 303 to /console/apps", res.Status, res.Header.Get("Location"))
	}
	// The console signs the person in by its code flow: /console/apps →
	// the authorization endpoint → its callback → /console/apps.
	next := base + "/console/apps"
	for range 6 {
		res, _, err = b.send(ctx, http.MethodGet, next, nil)
		if err != nil {
			return "", err
		}
		if res.StatusCode != http.StatusSeeOther && res.StatusCode != http.StatusFound {
			break
		}
		loc, err := res.Location()
		if err != nil {
			return "", err
		}
		next = loc.String()
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("console sign-in: %s at %s", res.Status, next)
	}
	return b.cookie(base + "/console/apps"), nil
}
