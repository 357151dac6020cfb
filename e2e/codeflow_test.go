package e2e

import (
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// The code flow (issue 14) across instances and restarts of the real
// binary, driven by a cookie-keeping HTTP client (the browser's part; the
// pages themselves are tested with Chromium in idp_test.go) and a relying
// party built on golang.org/x/oauth2 with PKCE.

const codeFlowCallback = "http://127.0.0.1/callback"

// anyJar is a cookie jar that keeps Secure cookies for plain-HTTP
// loopback addresses too: the cluster's issuer is https (its cookies are
// Secure, as they must be behind the load balancer), its instances are
// reached over http. The jar ignores ports, as browsers do, so the
// instances of a cluster share the cookies, as they would behind one
// address.
type anyJar struct{ *cookiejar.Jar }

func (j anyJar) SetCookies(u *url.URL, cs []*http.Cookie) {
	for _, c := range cs {
		c.Secure = false
	}
	j.Jar.SetCookies(u, cs)
}

// person is a browser of a person: cookies kept, redirects not followed.
type person struct {
	t     *testing.T
	c     *http.Client
	email string
}

func newPerson(t *testing.T, a *api) *person {
	t.Helper()
	email := browserUser(t, a)
	jar, _ := cookiejar.New(nil)
	return &person{t: t, email: email, c: &http.Client{Jar: anyJar{jar}, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (p *person) do(method, u string, form url.Values) (*http.Response, string) {
	p.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx(p.t), method, u, body)
	if err != nil {
		p.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := p.c.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

var (
	csrfField     = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	returnToField = regexp.MustCompile(`name="return_to" value="([^"]+)"`)
)

func formField(t *testing.T, re *regexp.Regexp, page string) string {
	t.Helper()
	m := re.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s in page:\n%s", re, tail(page, 4<<10))
	}
	return html.UnescapeString(m[1])
}

// next is where res redirects to on base: a relative Location, or one on
// the issuer (the cluster's load balancer), is taken to base.
func next(t *testing.T, base string, res *http.Response) (string, bool) {
	t.Helper()
	if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want a redirect", res.StatusCode)
	}
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if loc.Host == "127.0.0.1" && loc.Path == "/callback" {
		return loc.String(), false
	}
	b, _ := url.Parse(base)
	loc.Scheme, loc.Host = b.Scheme, b.Host
	return loc.String(), true
}

// authorize goes from authURL on base through login and consent (when
// asked) to the callback and returns its query and the pages it was
// shown ("login", "consent").
func (p *person) authorize(base, authURL string) (url.Values, []string) {
	t := p.t
	t.Helper()
	var shown []string
	res, _ := p.do(http.MethodGet, authURL, nil)
	for range 6 {
		loc, here := next(t, base, res)
		if !here {
			u, _ := url.Parse(loc)
			return u.Query(), shown
		}
		u, _ := url.Parse(loc)
		switch u.Path {
		case "/login":
			shown = append(shown, "login")
			_, page := p.do(http.MethodGet, loc, nil)
			res, page = p.do(http.MethodPost, base+"/login", url.Values{"csrf_token": {formField(t, csrfField, page)},
				"return_to": {formField(t, returnToField, page)}, "email": {p.email}, "password": {browserPassword}})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("login: %d %s", res.StatusCode, tail(page, 4<<10))
			}
		case "/consent":
			shown = append(shown, "consent")
			_, page := p.do(http.MethodGet, loc, nil)
			res, page = p.do(http.MethodPost, base+"/consent", url.Values{"csrf_token": {formField(t, csrfField, page)},
				"return_to": {formField(t, returnToField, page)}, "decision": {"approve"}})
			if res.StatusCode != http.StatusSeeOther && res.StatusCode != http.StatusFound {
				t.Fatalf("consent: %d %s", res.StatusCode, tail(page, 4<<10))
			}
		default:
			res, _ = p.do(http.MethodGet, loc, nil)
		}
	}
	t.Fatalf("no callback after 6 redirects")
	return nil, nil
}

// rpOn is the relying party's configuration against instance base.
func rpOn(app appView, base string) *oauth2.Config {
	return &oauth2.Config{ClientID: app.ClientID, ClientSecret: app.ClientSecret, RedirectURL: codeFlowCallback,
		Endpoint: oauth2.Endpoint{AuthURL: base + "/v1/oauth/authorize", TokenURL: base + "/v1/oauth/token", AuthStyle: oauth2.AuthStyleInHeader},
		Scopes:   []string{"openid", "offline_access", "cases:read"}}
}

// refresh rotates rt on cfg's instance.
func refresh(a *api, cfg *oauth2.Config, rt string) (*oauth2.Token, error) {
	return cfg.TokenSource(oauthContext(a.t, a.hc), &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Minute)}).Token()
}

// eventuallyInactive waits until every api says token is inactive.
func eventuallyInactive(t *testing.T, token, what string, on ...*api) {
	t.Helper()
	start := time.Now()
	for _, a := range on {
		for a.active(token) {
			if time.Since(start) > 30*time.Second {
				t.Fatalf("%s is still active on %s %s later", what, a.s.URL, time.Since(start))
			}
			time.Sleep(10 * time.Millisecond) // poll interval
		}
	}
}

func wantInvalidGrant(t *testing.T, err error, what string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("%s: %v, want invalid_grant", what, err)
	}
}

// codeFlowCluster starts two instances (PostgreSQL, shared NATS) with an
// app of the code flow and a person: the admin's api on each, the app,
// the person.
func codeFlowCluster(t *testing.T) (a, b *api, app appView, p *person) {
	t.Helper()
	c := startCluster(t, 2)
	a = adminAPI(t, c.nodes[0])
	b = c.api(1, a.token)
	return a, b, createCodeApp(t, a, codeFlowCallback), newPerson(t, a)
}

// TestCodeFlowAcrossInstances: a person signs in on instance A; the code
// is redeemed on instance B, once: a second redemption on A fails and the
// first one's tokens are inactive on both. A refresh token rotated on B
// and then presented again on A revokes the family on both.
func TestCodeFlowAcrossInstances(t *testing.T) {
	t.Parallel()
	a, b, app, p := codeFlowCluster(t)
	A, B := a.s.URL, b.s.URL

	// Sign in on A, redeem on B.
	verifier := oauth2.GenerateVerifier()
	q, shown := p.authorize(A, rpOn(app, A).AuthCodeURL("state-across-1", oauth2.S256ChallengeOption(verifier)))
	if q.Get("state") != "state-across-1" || q.Get("code") == "" || strings.Join(shown, ",") != "login,consent" {
		t.Fatalf("callback %v after %v", q, shown)
	}
	tok, err := rpOn(app, B).Exchange(oauthContext(t, b.hc), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange on B of a code issued on A: %v", err)
	}
	if tok.RefreshToken == "" || tok.Extra("id_token") == nil {
		t.Fatalf("exchange gave no refresh token or ID token: %+v", tok)
	}
	if !a.active(tok.AccessToken) || !b.active(tok.AccessToken) {
		t.Fatal("the access token of the exchange on B is not active on both")
	}
	// The same code again, on A: refused, and the first exchange's tokens
	// are revoked everywhere (RFC 6749 §4.1.2).
	_, err = rpOn(app, A).Exchange(oauthContext(t, a.hc), q.Get("code"), oauth2.VerifierOption(verifier))
	wantInvalidGrant(t, err, "second redemption on A")
	eventuallyInactive(t, tok.AccessToken, "the first exchange's access token", a, b)
	_, err = refresh(b, rpOn(app, B), tok.RefreshToken)
	wantInvalidGrant(t, err, "refresh token of a replayed code")

	// A remembered consent and the session of A work on B: no page shown.
	verifier = oauth2.GenerateVerifier()
	q, shown = p.authorize(B, rpOn(app, B).AuthCodeURL("state-across-2", oauth2.S256ChallengeOption(verifier)))
	if q.Get("code") == "" || len(shown) != 0 {
		t.Fatalf("second sign-in on B: %v after pages %v, want the callback at once", q, shown)
	}
	tok, err = rpOn(app, A).Exchange(oauthContext(t, a.hc), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange on A of a code issued on B: %v", err)
	}

	// Rotate on B; the rotated-away refresh token presented on A revokes
	// the family: the new refresh token and access tokens of both.
	rotated, err := refresh(b, rpOn(app, B), tok.RefreshToken)
	if err != nil || rotated.RefreshToken == "" || rotated.RefreshToken == tok.RefreshToken {
		t.Fatalf("rotation on B: %v", err)
	}
	if !a.active(rotated.AccessToken) {
		t.Fatal("the rotated access token is not active on A")
	}
	_, err = refresh(a, rpOn(app, A), tok.RefreshToken)
	wantInvalidGrant(t, err, "reuse on A of a refresh token rotated on B")
	eventuallyInactive(t, rotated.AccessToken, "the family's newest access token", a, b)
	eventuallyInactive(t, tok.AccessToken, "the family's first access token", a, b)
	_, err = refresh(b, rpOn(app, B), rotated.RefreshToken)
	wantInvalidGrant(t, err, "the family's newest refresh token on B")
	_, err = refresh(a, rpOn(app, A), rotated.RefreshToken)
	wantInvalidGrant(t, err, "the family's newest refresh token on A")
}

// TestCodeFlowSurvivesRestart: a restart of one embedded server keeps the
// browser's session (the cookie still signs in), the consent (not asked
// again) and refresh tokens (they rotate, and a rotated-away one is still
// known as used).
func TestCodeFlowSurvivesRestart(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	a := adminAPI(t, s)
	app := createCodeApp(t, a, codeFlowCallback)
	p := newPerson(t, a)
	cfg := rpOn(app, s.URL)

	verifier := oauth2.GenerateVerifier()
	q, shown := p.authorize(s.URL, cfg.AuthCodeURL("state-restart-1", oauth2.S256ChallengeOption(verifier)))
	if q.Get("code") == "" || strings.Join(shown, ",") != "login,consent" {
		t.Fatalf("callback %v after %v", q, shown)
	}
	tok, err := cfg.Exchange(oauthContext(t, a.hc), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	used := tok.RefreshToken
	tok, err = refresh(a, cfg, used)
	if err != nil {
		t.Fatalf("rotation before the restart: %v", err)
	}

	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	s.restart(t)

	// The cookie of before signs in; the consent of before is remembered.
	verifier = oauth2.GenerateVerifier()
	q, shown = p.authorize(s.URL, cfg.AuthCodeURL("state-restart-2", oauth2.S256ChallengeOption(verifier)))
	if q.Get("code") == "" || len(shown) != 0 {
		t.Fatalf("sign-in after the restart: %v after pages %v, want the callback at once", q, shown)
	}
	if _, err := cfg.Exchange(oauthContext(t, a.hc), q.Get("code"), oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("exchange after the restart: %v", err)
	}
	// The refresh token of before rotates; the one used before the restart
	// is still known as used: presenting it revokes the family.
	if !a.active(tok.AccessToken) {
		t.Fatal("an access token of the code flow is inactive after the restart")
	}
	rotated, err := refresh(a, cfg, tok.RefreshToken)
	if err != nil || rotated.RefreshToken == tok.RefreshToken {
		t.Fatalf("rotation after the restart: %v", err)
	}
	_, err = refresh(a, cfg, used)
	wantInvalidGrant(t, err, "a refresh token rotated away before the restart")
	eventuallyInactive(t, rotated.AccessToken, "the family's access token", a)
	_, err = refresh(a, cfg, rotated.RefreshToken)
	wantInvalidGrant(t, err, "the family's newest refresh token")
}
