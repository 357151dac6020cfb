package vault

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// quirkProvider is a token endpoint of the test's own: each request's
// form is kept, answer writes the answer.
type quirkProvider struct {
	mu     sync.Mutex
	forms  []url.Values
	answer func(w http.ResponseWriter)
}

func (p *quirkProvider) set(answer func(w http.ResponseWriter)) {
	p.mu.Lock()
	p.answer = answer
	p.mu.Unlock()
}

func (p *quirkProvider) last() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.forms) == 0 {
		return nil
	}
	return p.forms[len(p.forms)-1]
}

func (p *quirkProvider) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.forms)
}

func answerWith(status int, header map[string]string, body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// quirkEnv is a refresh environment whose provider is a quirkProvider.
func quirkEnv(t *testing.T) (*refreshEnv, *quirkProvider) {
	e := newRefreshEnv(t)
	p := &quirkProvider{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		p.mu.Lock()
		p.forms = append(p.forms, r.PostForm)
		answer := p.answer
		p.mu.Unlock()
		answer(w)
	}))
	t.Cleanup(srv.Close)
	e.url = srv.URL + "/token"
	return e, p
}

// createAuthorized appends an authorization_code credential of provider
// authorized with answer a, as the callback stores it.
func (e *refreshEnv) createAuthorized(v *Vault, tenant, id, provider string, a grantAnswer) {
	e.t.Helper()
	e.seed(v, tenant, id, id, provider, GrantAuthorizationCode, "authorized", a)
}

func (e *refreshEnv) refreshToken(v *Vault, c projections.Credential) string {
	e.t.Helper()
	ver, ok := c.CurrentVersion()
	if !ok {
		e.t.Fatal("no current version")
	}
	ts, err := v.openTokens(c, ver)
	if err != nil {
		e.t.Fatal(err)
	}
	return ts.RefreshToken
}

var jsonHeader = map[string]string{"Content-Type": "application/json"}

// TestRefreshProviderQuirks: refreshes against providers' documented
// answers. Google's refresh answers no refresh token: the old one is
// kept and presented again. GitHub rotates it: the new one is presented
// next. A revoked refresh token (invalid_grant; GitHub's
// bad_refresh_token in a 200; Slack's invalid_refresh_token in an
// ok:false 200) makes the credential revoked with no next attempt and
// credential.revoked on its control stream, and it is not tried again. A
// 429's Retry-After puts the next attempt no sooner than it asks. A
// credential of no known expiry (Salesforce answers no expires_in) that
// meets a 503 is retried with back-off and still serves its token, not
// failed for good; a refusal that does not pass fails it after
// maxFailuresNoExpiry attempts.
func TestRefreshProviderQuirks(t *testing.T) {
	ctx := t.Context()
	e, prov := quirkEnv(t)
	v := e.vault("inst_1")
	day := grantAnswer{tokens: tokenSet{AccessToken: "at-0", RefreshToken: "rt-0"}, tokenType: "Bearer", expiresIn: 86400}

	// Google: no refresh_token in the refresh answer.
	e.createAuthorized(v, "t1", "google", "google", day)
	prov.set(answerWith(200, jsonHeader, `{"access_token":"ya29.1","expires_in":3599,"scope":"openid email","token_type":"Bearer","id_token":"eyJ.x.y"}`))
	for i := range 2 {
		c, err := v.Refresh(ctx, "t1", "google", true)
		if err != nil {
			t.Fatal(err)
		}
		if got := prov.last().Get("refresh_token"); got != "rt-0" {
			t.Fatalf("google refresh %d presented %q, want the kept rt-0", i, got)
		}
		if rt := e.refreshToken(v, c); rt != "rt-0" || c.Status != events.CredentialStatusActive {
			t.Fatalf("google: refresh token %q status %s", rt, c.Status)
		}
	}

	// GitHub: rotation, form-encoded.
	e.createAuthorized(v, "t1", "github", "github", day)
	prov.set(answerWith(200, map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		"access_token=ghu_1&expires_in=28800&refresh_token=ghr_1&refresh_token_expires_in=15811200&scope=&token_type=bearer"))
	if _, err := v.Refresh(ctx, "t1", "github", true); err != nil {
		t.Fatal(err)
	}
	prov.set(answerWith(200, map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		"access_token=ghu_2&expires_in=28800&refresh_token=ghr_2&refresh_token_expires_in=15811200&scope=&token_type=bearer"))
	c, err := v.Refresh(ctx, "t1", "github", true)
	if err != nil || prov.last().Get("refresh_token") != "ghr_1" || e.refreshToken(v, c) != "ghr_2" {
		t.Fatalf("github rotation: presented %q, kept %q, %v", prov.last().Get("refresh_token"), e.refreshToken(v, c), err)
	}
	if tok, _, _, err := v.AccessToken(c); err != nil || tok != "ghu_2" {
		t.Fatalf("github access token %q %v", tok, err)
	}

	// Revoked refresh tokens, as each provider says it.
	for _, tc := range []struct {
		id, provider string
		status       int
		header       map[string]string
		body, code   string
	}{
		{"google_revoked", "google", 400, jsonHeader, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`, "invalid_grant"},
		{"github_revoked", "github", 200, map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			"error=bad_refresh_token&error_description=The+refresh+token+passed+is+incorrect+or+expired.", "bad_refresh_token"},
		{"slack_revoked", "slack", 200, jsonHeader, `{"ok":false,"error":"invalid_refresh_token"}`, "invalid_refresh_token"},
	} {
		e.createAuthorized(v, "t1", tc.id, tc.provider, day)
		prov.set(answerWith(tc.status, tc.header, tc.body))
		_, err := v.Refresh(ctx, "t1", tc.id, true)
		var ue *UpstreamError
		if !errors.As(err, &ue) || ue.Code != tc.code {
			t.Fatalf("%s: %v", tc.id, err)
		}
		c := e.get("t1", tc.id)
		if c.Status != events.CredentialStatusRevoked || c.NextRefreshAt != nil || c.LastError == "" {
			t.Fatalf("%s: status %s next %v last error %q, want revoked with no next attempt", tc.id, c.Status, c.NextRefreshAt, c.LastError)
		}
		types := e.types(credentialRef("t1", tc.id))
		if types[len(types)-1] != "credential.revoked" && types[len(types)-2] != "credential.revoked" {
			t.Fatalf("%s: control events %v, want credential.revoked", tc.id, types)
		}
		n := prov.count()
		e.advance(48 * time.Hour)
		if _, err := v.Refresh(ctx, "t1", tc.id, false); !errors.Is(err, errNotDue) || prov.count() != n {
			t.Fatalf("%s: a revoked credential was tried again (%v)", tc.id, err)
		}
		if _, _, _, err := v.AccessToken(c); !errors.Is(err, ErrNoToken) {
			t.Fatalf("%s: a revoked credential's token is served: %v", tc.id, err)
		}
	}

	// 429 with Retry-After: 600 s, longer than the first back-off (5 s).
	e.createAuthorized(v, "t1", "limited", "custom", day)
	prov.set(answerWith(429, map[string]string{"Retry-After": "600", "Content-Type": "application/json"}, `{"error":"rate_limited"}`))
	now := e.clock()
	if _, err := v.Refresh(ctx, "t1", "limited", true); err == nil {
		t.Fatal("a 429 refreshed")
	}
	c = e.get("t1", "limited")
	if c.Status != events.CredentialStatusActive || c.NextRefreshAt == nil || c.NextRefreshAt.Before(now.Add(600*time.Second)) || c.ConsecutiveFailures != 1 {
		t.Fatalf("429: status %s next %v (want at least %v) failures %d", c.Status, c.NextRefreshAt, now.Add(600*time.Second), c.ConsecutiveFailures)
	}

	// Salesforce: no expires_in; a 503 on a refresh leaves it usable and
	// retried.
	e.createAuthorized(v, "t1", "salesforce", "salesforce", grantAnswer{tokens: tokenSet{AccessToken: "00D!1", RefreshToken: "5Aep"}, tokenType: "Bearer"})
	c = e.get("t1", "salesforce")
	if c.ExpiresAt() != nil || c.NextRefreshAt != nil || c.Status != events.CredentialStatusActive {
		t.Fatalf("salesforce: expires %v next %v status %s", c.ExpiresAt(), c.NextRefreshAt, c.Status)
	}
	prov.set(answerWith(503, map[string]string{"Content-Type": "text/html"}, "<html>Service Unavailable</html>"))
	now = e.clock()
	if _, err := v.Refresh(ctx, "t1", "salesforce", true); err == nil {
		t.Fatal("a 503 refreshed")
	}
	c = e.get("t1", "salesforce")
	if c.Status != events.CredentialStatusActive || c.NextRefreshAt == nil || c.NextRefreshAt.Before(now.Add(5*time.Second)) || c.LastError != "http_503" {
		t.Fatalf("salesforce after a 503: status %s next %v last error %q, want active and retried", c.Status, c.NextRefreshAt, c.LastError)
	}
	if tok, _, _, err := v.AccessToken(c); err != nil || tok != "00D!1" {
		t.Fatalf("salesforce after a 503: token %q %v", tok, err)
	}
	// The retry, due: the provider is back (Salesforce's refresh answer).
	prov.set(answerWith(200, jsonHeader, `{"access_token":"00D!2","signature":"x=","scope":"refresh_token api","instance_url":"https://na1.salesforce.com","id":"https://login.salesforce.com/id/00D/005","token_type":"Bearer","issued_at":"1278448832702"}`))
	e.advance(c.NextRefreshAt.Sub(e.clock()) + time.Second)
	c, err = v.Refresh(ctx, "t1", "salesforce", false)
	if err != nil || c.Status != events.CredentialStatusActive || c.NextRefreshAt != nil || c.ConsecutiveFailures != 0 || e.refreshToken(v, c) != "5Aep" {
		t.Fatalf("salesforce retried: %v status %s next %v failures %d", err, c.Status, c.NextRefreshAt, c.ConsecutiveFailures)
	}
	if tok, _, _, err := v.AccessToken(c); err != nil || tok != "00D!2" {
		t.Fatalf("salesforce refreshed: token %q %v", tok, err)
	}
	// A refusal that does not pass (the client secret changed at the
	// provider): retried, then failed after maxFailuresNoExpiry in a row,
	// with no next attempt.
	prov.set(answerWith(400, jsonHeader, `{"error":"invalid_client","error_description":"invalid client credentials"}`))
	for i := 1; i <= maxFailuresNoExpiry; i++ {
		if _, err := v.Refresh(ctx, "t1", "salesforce", true); err == nil {
			t.Fatal("invalid_client refreshed")
		}
		c = e.get("t1", "salesforce")
		if want := i == maxFailuresNoExpiry; (c.Status == events.CredentialStatusFailed) != want || (c.NextRefreshAt == nil) != want || c.ConsecutiveFailures != i {
			t.Fatalf("salesforce after %d invalid_client: status %s next %v failures %d", i, c.Status, c.NextRefreshAt, c.ConsecutiveFailures)
		}
	}
}
