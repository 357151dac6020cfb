package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// codeProvider is an OAuth 2.0 provider of the test's own: an
// authorization endpoint that answers at once (code, or the implicit
// fragment, or access_denied when deny is set) and a token endpoint that
// checks the code, its redirect_uri and its PKCE verifier (RFC 7636
// §4.6) and rotates refresh tokens, refusing a reused one.
type codeProvider struct {
	srv  *httptest.Server
	mu   sync.Mutex
	deny bool
	// codes: code → the authorization request's query.
	codes     map[string]url.Values
	refresh   string
	reused    int
	verifiers []string
	issued    []string
	n         int
}

func newCodeProvider(t *testing.T) *codeProvider {
	p := &codeProvider{codes: map[string]url.Values{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		p.mu.Lock()
		defer p.mu.Unlock()
		p.n++
		if p.deny {
			http.Redirect(w, r, q.Get("redirect_uri")+"?error=access_denied&error_description=the+user+said+no&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
			return
		}
		if q.Get("response_type") == "token" {
			tok := "implicit-token-" + strings.Repeat("x", 8) + string(rune('a'+p.n%26)) + "-abcdefgh"
			p.issued = append(p.issued, tok)
			http.Redirect(w, r, q.Get("redirect_uri")+"#access_token="+tok+"&token_type=Bearer&expires_in=3600&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
			return
		}
		code := "code-" + strings.Repeat("c", 12) + string(rune('a'+p.n%26))
		p.codes[code] = q
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		p.mu.Lock()
		defer p.mu.Unlock()
		fail := func(code string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"` + code + `"}`))
		}
		if id, secret, ok := r.BasicAuth(); !ok || id != "fake-client" || secret != "fake-secret-value-1234" {
			fail("invalid_client")
			return
		}
		switch r.PostForm.Get("grant_type") {
		case "authorization_code":
			q, ok := p.codes[r.PostForm.Get("code")]
			delete(p.codes, r.PostForm.Get("code"))
			if !ok || q.Get("redirect_uri") != r.PostForm.Get("redirect_uri") {
				fail("invalid_grant")
				return
			}
			v := r.PostForm.Get("code_verifier")
			sum := sha256.Sum256([]byte(v))
			if q.Get("code_challenge_method") != "S256" || base64.RawURLEncoding.EncodeToString(sum[:]) != q.Get("code_challenge") {
				fail("invalid_grant")
				return
			}
			p.verifiers = append(p.verifiers, v)
		case "refresh_token":
			if rt := r.PostForm.Get("refresh_token"); rt != p.refresh || rt == "" {
				p.reused++
				fail("invalid_grant")
				return
			}
		default:
			fail("unsupported_grant_type")
			return
		}
		p.n++
		at, rt := "access-"+strings.Repeat("a", 10)+string(rune('a'+p.n%26)), "refresh-"+strings.Repeat("r", 10)+string(rune('a'+p.n%26))
		p.refresh = rt
		p.issued = append(p.issued, at, rt)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"` + at + `","token_type":"Bearer","expires_in":3600,"refresh_token":"` + rt + `"}`))
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func get(t *testing.T, u string) (*http.Response, string) {
	t.Helper()
	res, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// TestHTTPCredentialsAuthorizationCode: the create answers an
// authorize_url (state, PKCE S256); the provider's code is exchanged at
// the callback, stored as a version (reason authorized) and shown on a
// page; a replayed, forged or missing state and a provider error are a
// 400 page that changes nothing; a forced refresh rotates the refresh
// token without ever presenting an old one.
func TestHTTPCredentialsAuthorizationCode(t *testing.T) {
	prov := newCodeProvider(t)
	s := servertest.New(t)
	admin := s.Token()
	r := want(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": "fake", "provider": "custom",
		"client_id": "fake-client", "client_secret": "fake-secret-value-1234", "auth_url": prov.srv.URL + "/authorize?audience=x",
		"token_url": prov.srv.URL + "/token", "scopes": []string{"read", "offline"}}), http.StatusCreated)
	var c struct {
		credential
		AuthorizeURL string `json:"authorize_url"`
	}
	r.JSON(t, &c)
	if c.Status != "pending_authorization" || c.AuthorizeURL == "" {
		t.Fatalf("created %s", r.Body)
	}
	au, _ := url.Parse(c.AuthorizeURL)
	q := au.Query()
	if q.Get("audience") != "x" || q.Get("response_type") != "code" || q.Get("client_id") != "fake-client" || q.Get("scope") != "read offline" ||
		q.Get("redirect_uri") != s.URL+"/v1/credentials/callback" || q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("state") == "" {
		t.Fatalf("authorize_url %s", c.AuthorizeURL)
	}
	res, _ := get(t, c.AuthorizeURL)
	callback := res.Header.Get("Location")
	res, page := get(t, callback)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "is authorized") || !strings.Contains(res.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("callback %d %s", res.StatusCode, page)
	}
	one := "/v1/credentials/" + c.ID
	var got credential
	want(t, s.Do(http.MethodGet, one, admin, nil), http.StatusOK).JSON(t, &got)
	if got.Status != "active" || got.ExpiresAt == nil {
		t.Fatalf("after the callback %+v", got)
	}
	var vers credVersions
	want(t, s.Do(http.MethodGet, one+"/versions", admin, nil), http.StatusOK).JSON(t, &vers)
	if len(vers.Items) != 1 || vers.Items[0].Reason != "authorized" || !vers.Items[0].Current {
		t.Fatalf("versions %+v", vers)
	}

	// Replayed, forged, missing: 400 pages, nothing changed.
	for name, u := range map[string]string{
		"replayed": callback,
		"forged":   strings.Replace(callback, "state=", "state=A", 1),
		"missing":  s.URL + "/v1/credentials/callback?code=abc",
		"no code":  s.URL + "/v1/credentials/callback?state=abc.def",
	} {
		if res, page := get(t, u); res.StatusCode != http.StatusBadRequest || !strings.Contains(page, "Authorization failed") {
			t.Fatalf("%s state: %d %s", name, res.StatusCode, page)
		}
	}
	// The provider refuses: a 400 page; the credential keeps its tokens.
	prov.mu.Lock()
	prov.deny = true
	prov.mu.Unlock()
	var again struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	want(t, s.Do(http.MethodPost, one+"/authorize", admin, nil), http.StatusOK).JSON(t, &again)
	res, _ = get(t, again.AuthorizeURL)
	denied := res.Header.Get("Location")
	if res, page := get(t, denied); res.StatusCode != http.StatusBadRequest || !strings.Contains(page, "access_denied") {
		t.Fatalf("denied: %d %s", res.StatusCode, page)
	}
	if res, _ := get(t, denied); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("a denied state used twice: %d", res.StatusCode)
	}
	var after credential
	want(t, s.Do(http.MethodGet, one, admin, nil), http.StatusOK).JSON(t, &after)
	if after.Version != got.Version || after.Status != "active" {
		t.Fatalf("a refused authorization changed the credential: %+v → %+v", got, after)
	}
	// Forced refreshes rotate the refresh token; the old one is never sent.
	for range 2 {
		want(t, s.Do(http.MethodPost, one+"/refresh", admin, nil), http.StatusOK)
	}
	// A rollback makes the first token set current again; the next
	// refresh still presents the newest refresh token.
	want(t, s.Do(http.MethodPost, one+"/rollback", admin, map[string]any{"version": 1}), http.StatusOK)
	want(t, s.Do(http.MethodPost, one+"/refresh", admin, nil), http.StatusOK)
	prov.mu.Lock()
	reused, verifiers := prov.reused, len(prov.verifiers)
	prov.mu.Unlock()
	if reused != 0 || verifiers != 1 {
		t.Fatalf("refresh tokens reused %d times; %d PKCE verifiers checked", reused, verifiers)
	}
	// The provider no longer knows the refresh token: revoked; a new
	// authorization brings the credential back.
	prov.mu.Lock()
	prov.refresh, prov.deny = "forgotten", false
	prov.mu.Unlock()
	wantProblem(t, s.Do(http.MethodPost, one+"/refresh", admin, nil), http.StatusBadGateway, "upstream_error")
	want(t, s.Do(http.MethodGet, one, admin, nil), http.StatusOK).JSON(t, &after)
	if after.Status != "revoked" {
		t.Fatalf("after invalid_grant: %+v", after)
	}
	want(t, s.Do(http.MethodPost, one+"/authorize", admin, nil), http.StatusOK).JSON(t, &again)
	res, _ = get(t, again.AuthorizeURL)
	if res, page := get(t, res.Header.Get("Location")); res.StatusCode != http.StatusOK {
		t.Fatalf("reauthorization: %d %s", res.StatusCode, page)
	}
	want(t, s.Do(http.MethodGet, one, admin, nil), http.StatusOK).JSON(t, &after)
	want(t, s.Do(http.MethodGet, one+"/versions", admin, nil), http.StatusOK).JSON(t, &vers)
	if after.Status != "active" || vers.Items[0].Reason != "authorized" || !vers.Items[0].Current {
		t.Fatalf("reauthorized %+v %+v", after, vers.Items)
	}
	wantProblem(t, s.Do(http.MethodPost, "/v1/credentials/cred_missing/authorize", admin, nil), http.StatusNotFound, "not_found")
}

// TestHTTPCredentialsImplicit: the fragment reaches the server through
// the relay page (its script carries the CSP nonce) and the POST
// callback; the token set has no refresh; a replayed POST is refused.
func TestHTTPCredentialsImplicit(t *testing.T) {
	prov := newCodeProvider(t)
	s := servertest.New(t)
	admin := s.Token()
	var c struct {
		credential
		AuthorizeURL string `json:"authorize_url"`
	}
	want(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": "legacy", "provider": "custom", "grant_type": "implicit",
		"client_id": "fake-client", "auth_url": prov.srv.URL + "/authorize"}), http.StatusCreated).JSON(t, &c)
	res, _ := get(t, c.AuthorizeURL)
	loc, _ := url.Parse(res.Header.Get("Location"))
	frag, _ := url.ParseQuery(loc.Fragment)
	if loc.RawQuery != "" || frag.Get("access_token") == "" {
		t.Fatalf("provider redirect %s", loc)
	}
	loc.Fragment = ""
	res, page := get(t, loc.String())
	csp := res.Header.Get("Content-Security-Policy")
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "location.hash") || !strings.Contains(csp, "script-src 'nonce-") ||
		!strings.Contains(page, `<script nonce="`+strings.TrimSuffix(strings.SplitN(strings.SplitN(csp, "'nonce-", 2)[1], "'", 2)[0], "'")+`"`) {
		t.Fatalf("relay page %d %q %s", res.StatusCode, csp, page)
	}
	post := func() (int, string) {
		res, err := noRedirect.PostForm(s.URL+"/v1/credentials/callback", frag)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, page := post(); code != http.StatusOK || !strings.Contains(page, "cannot be refreshed") {
		t.Fatalf("post callback %d %s", code, page)
	}
	if code, _ := post(); code != http.StatusBadRequest {
		t.Fatalf("replayed post %d", code)
	}
	var got credential
	want(t, s.Do(http.MethodGet, "/v1/credentials/"+c.ID, admin, nil), http.StatusOK).JSON(t, &got)
	var h credHealth
	want(t, s.Do(http.MethodGet, "/v1/credentials/"+c.ID+"/health", admin, nil), http.StatusOK).JSON(t, &h)
	if got.Status != "active" || got.ExpiresAt == nil || h.NextRefreshAt != nil {
		t.Fatalf("implicit credential %+v health %+v", got, h)
	}
	wantProblem(t, s.Do(http.MethodPost, "/v1/credentials/"+c.ID+"/refresh", admin, nil), http.StatusConflict, "conflict")
}
