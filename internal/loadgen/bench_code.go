package loadgen

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// The code flow's figures (issue 14), without a browser: bench makes a
// relying party (an app of the authorization_code and refresh_token
// grants) and a person, signs the person in and consents once through
// the pages (a cookie-keeping client), and then loads the server with
// what a signed-in browser and its relying party send again and again.
//
//	code:    GET /v1/oauth/authorize with the session cookie (consent
//	         remembered: the answer is the redirect to the callback with a
//	         code), then the code's exchange with PKCE (S256) at the token
//	         endpoint: one step, two requests.
//	refresh: refresh token rotations (grant_type=refresh_token), each
//	         with the refresh token the previous rotation of its family
//	         returned.

const (
	codeCallback = "http://127.0.0.1/callback"
	codeScopes   = "openid offline_access " + benchScope
	authorizeURL = "/v1/oauth/authorize"
	// codePassword is the bench person's password (a throwaway account
	// of a throwaway server).
	codePassword = "bench-person-password-0123456789"
)

// codeRP is the relying party and signed-in browser the code scenarios
// load the server with.
type codeRP struct {
	c      *http.Client
	base   string
	header http.Header // client_secret_basic of the relying party
	cookie string      // the browser's cookies, as a Cookie header
	query  url.Values  // the authorization request, without state and PKCE
	// steps sends the load's requests (raw connections, as the other
	// scenarios' requests go, unless --transport net/http); set by
	// prepare, after the sign-in (which goes through c).
	steps *stepClient
}

var (
	codeCSRF     = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	codeReturnTo = regexp.MustCompile(`name="return_to" value="([^"]+)"`)
)

// newCodeRP creates the app and the person, and signs the person in and
// consents once, with a client of its own that keeps cookies.
func newCodeRP(ctx context.Context, c *http.Client, cfg benchConfig) (*codeRP, error) {
	api, err := newBenchAPI(ctx, c, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := api.call(ctx, http.MethodPost, "/v1/platform/scopes", map[string]any{"name": benchScope, "description": "gatehouse bench", "requires_approval": false}, 201, 409); err != nil {
		return nil, err
	}
	req := map[string]any{"name": "bench code flow " + randomHex(4),
		"grant_types": []string{"authorization_code", "refresh_token"}, "redirect_uris": []string{codeCallback},
		"requested_scopes": []string{benchScope}, "token_endpoint_auth_method": "client_secret_basic"}
	if cfg.IDTokenAlg != "" {
		req["id_token_signed_response_alg"] = cfg.IDTokenAlg
	}
	out, err := api.call(ctx, http.MethodPost, "/v1/platform/apps", req, 201)
	if err != nil {
		return nil, err
	}
	var app struct {
		ID           string `json:"id"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out, &app); err != nil || app.ClientSecret == "" {
		return nil, fmt.Errorf("the created app's answer: %v", err)
	}
	for _, d := range []map[string]any{{"grant_type": "authorization_code", "decision": "approve"}, {"redirect_uri": codeCallback, "decision": "approve"}} {
		if _, err := api.call(ctx, http.MethodPost, "/v1/platform/apps/"+app.ID+"/scope-decisions", d, 200); err != nil {
			return nil, err
		}
	}
	email := "bench-" + randomHex(4) + "@example.com"
	if _, err := api.call(ctx, http.MethodPost, "/v1/platform/users", map[string]any{"email": email, "name": "Bench Person", "password": codePassword}, 201); err != nil {
		return nil, err
	}
	rp := &codeRP{c: c, base: cfg.URL, header: formHeader(benchConfig{ClientID: app.ClientID, ClientSecret: app.ClientSecret}),
		query: url.Values{"response_type": {"code"}, "client_id": {app.ClientID}, "redirect_uri": {codeCallback}, "scope": {codeScopes}}}
	if err := rp.signIn(ctx, email); err != nil {
		return nil, fmt.Errorf("signing the person in: %w", err)
	}
	return rp, nil
}

// browser is a person's browser through the hosted pages: a client of
// its own that keeps cookies and follows no redirect.
type browser struct {
	c   *http.Client
	jar *cookiejar.Jar
}

// newBrowser is a browser sending through c's transport, with c's
// timeout.
func newBrowser(c *http.Client) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{jar: jar, c: &http.Client{Jar: jar, Transport: c.Transport, Timeout: c.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// send sends a request to u, a form when form is not nil, and returns
// the answer with its body (the first MiB).
func (b *browser) send(ctx context.Context, method, u string, form url.Values) (*http.Response, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	page, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res, string(page), err
}

// cookie is the browser's cookies for u, as a Cookie header.
func (b *browser) cookie(u string) string {
	pu, _ := url.Parse(u)
	var parts []string
	for _, ck := range b.jar.Cookies(pu) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; ")
}

// signIn goes through login and consent with a browser of its own and
// keeps its cookies.
func (rp *codeRP) signIn(ctx context.Context, email string) error {
	b := newBrowser(rp.c)
	send := func(method, path string, form url.Values) (*http.Response, string, error) {
		return b.send(ctx, method, rp.base+path, form)
	}
	q, _, _ := rp.authorizeQuery()
	res, _, err := send(http.MethodGet, authorizeURL+"?"+q.Encode(), nil)
	for range 6 {
		if err != nil {
			return err
		}
		loc, lerr := url.Parse(res.Header.Get("Location"))
		if lerr != nil || res.StatusCode/100 != 3 {
			return fmt.Errorf("%s: %s, want a redirect", res.Request.URL.Path, res.Status)
		}
		if loc.Host != "" && strings.HasPrefix(loc.String(), codeCallback) {
			if loc.Query().Get("code") == "" {
				return fmt.Errorf("the callback without a code: %s", loc.RawQuery)
			}
			rp.cookie = b.cookie(rp.base)
			return nil
		}
		path := loc.RequestURI()
		switch loc.Path {
		case "/login", "/consent":
			_, page, gerr := send(http.MethodGet, path, nil)
			if gerr != nil {
				return gerr
			}
			csrf, ret := codeCSRF.FindStringSubmatch(page), codeReturnTo.FindStringSubmatch(page)
			if csrf == nil || ret == nil {
				return fmt.Errorf("no form on %s", loc.Path)
			}
			form := url.Values{"csrf_token": {html.UnescapeString(csrf[1])}, "return_to": {html.UnescapeString(ret[1])}}
			if loc.Path == "/login" {
				form.Set("email", email)
				form.Set("password", codePassword)
			} else {
				form.Set("decision", "approve")
			}
			res, _, err = send(http.MethodPost, loc.Path, form)
		default:
			res, _, err = send(http.MethodGet, path, nil)
		}
	}
	return errors.New("no callback after 6 redirects")
}

// authorizeQuery is a fresh authorization request: its query, with a
// state and an S256 code challenge, and the code verifier.
func (rp *codeRP) authorizeQuery() (url.Values, string, string) {
	q := url.Values{}
	for k, v := range rp.query {
		q[k] = v
	}
	verifier := base64.RawURLEncoding.EncodeToString([]byte(randomHex(24)))
	sum := sha256.Sum256([]byte(verifier))
	state := randomHex(8)
	q.Set("state", state)
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	q.Set("code_challenge_method", "S256")
	return q, state, verifier
}

// code is one authorization (with the session, consent remembered) and
// the exchange of its code; it returns the refresh token and its kind of
// error.
func (rp *codeRP) code(ctx context.Context) (string, string) {
	code, verifier, kind := rp.authorize(ctx)
	if kind != "" {
		return "", kind
	}
	return rp.token(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {codeCallback}, "code_verifier": {verifier}})
}

// authorize is one authorization request with the session, consent
// remembered: it returns the code the callback got, its PKCE verifier,
// and the step's kind of error.
func (rp *codeRP) authorize(ctx context.Context) (code, verifier, kind string) {
	q, state, verifier := rp.authorizeQuery()
	kind = rp.steps.do(ctx, http.MethodGet, authorizeURL+"?"+q.Encode(), http.Header{"Cookie": {rp.cookie}}, nil, func(a answer, _ []byte) string {
		if a.status != http.StatusFound && a.status != http.StatusSeeOther {
			return "authorize status " + fmt.Sprint(a.status)
		}
		loc, err := url.Parse(a.location)
		if err != nil || !strings.HasPrefix(loc.String(), codeCallback) {
			return "authorize " + errBadBody // a redirect elsewhere: to the login or consent page
		}
		got := loc.Query()
		if got.Get("state") != state || got.Get("code") == "" {
			return "authorize " + errBadBody
		}
		code = got.Get("code")
		return ""
	})
	return code, verifier, kind
}

// token posts form to the token endpoint as the relying party and
// returns the answer's refresh token.
func (rp *codeRP) token(ctx context.Context, form url.Values) (string, string) {
	var refresh string
	kind := rp.steps.do(ctx, http.MethodPost, tokenPath, rp.header, []byte(form.Encode()), func(a answer, body []byte) string {
		if a.status != http.StatusOK {
			return "token status " + fmt.Sprint(a.status)
		}
		_, rt, ok := tokenAnswer(body)
		if !ok {
			return errBadBody
		}
		refresh = rt
		return ""
	})
	return refresh, kind
}

// newCodeLoad is newCodeRP with the client of the load's steps.
func newCodeLoad(ctx context.Context, c *http.Client, cfg benchConfig) (*codeRP, error) {
	steps, err := newStepClient(c, cfg)
	if err != nil {
		return nil, err
	}
	rp, err := newCodeRP(ctx, c, cfg)
	if err != nil {
		return nil, err
	}
	rp.steps = steps
	return rp, nil
}

// prepareCode: each step is an authorization and its code's exchange.
func prepareCode(ctx context.Context, c *http.Client, cfg benchConfig) (target, error) {
	rp, err := newCodeLoad(ctx, c, cfg)
	if err != nil {
		return target{}, fmt.Errorf("code: %w", err)
	}
	return target{step: func(ctx context.Context) string {
		_, kind := rp.code(ctx)
		return kind
	}, cleanup: rp.steps.close}, nil
}

// prepareRefresh: each step rotates a refresh token. The families (one
// per worker, made through the code flow first) are in a pool: a step
// takes one family's newest refresh token and puts back the one its
// rotation returned; a failed rotation's family is replaced by a new one.
func prepareRefresh(ctx context.Context, c *http.Client, cfg benchConfig) (target, error) {
	rp, err := newCodeLoad(ctx, c, cfg)
	if err != nil {
		return target{}, fmt.Errorf("refresh: %w", err)
	}
	pool := make(chan string, cfg.Concurrency)
	for range cfg.Concurrency {
		rt, kind := rp.code(ctx)
		if kind != "" {
			rp.steps.close()
			return target{}, fmt.Errorf("refresh: the code flow for a refresh token: %s", kind)
		}
		pool <- rt
	}
	return target{step: func(ctx context.Context) string {
		var rt string
		select {
		case rt = <-pool:
		case <-ctx.Done():
			return errTimeout
		}
		next, kind := rp.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		if kind != "" {
			if fresh, k := rp.code(ctx); k == "" {
				next = fresh
			} else {
				next = rt // fails again rather than leaving a worker without a family
			}
		}
		pool <- next
		return kind
	}, cleanup: rp.steps.close}, nil
}
