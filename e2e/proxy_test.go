package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Issue 16 (API.md "Upstream credentials (the vault)" → "Use"): the
// proxy and token exchange, against a second Gatehouse as the provider
// and an upstream API of the test's own.

// tokenCounter sits in front of the provider's token endpoint and counts
// the token requests the vault makes.
type tokenCounter struct {
	srv *httptest.Server
	n   atomic.Int64
}

func newTokenCounter(t *testing.T, provider string) *tokenCounter {
	u, err := url.Parse(provider)
	if err != nil {
		t.Fatal(err)
	}
	c := &tokenCounter{}
	rp := httputil.NewSingleHostReverseProxy(u)
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/oauth/token" {
			c.n.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// upstreamAPI is the provider's API: it takes only tokens the provider
// says are active (introspection, so a revoked token is refused at
// once), records every token it is shown, and echoes what it got.
type upstreamAPI struct {
	srv                   *httptest.Server
	provider              string
	clientID, secret      string
	header                string // where the token comes ("Authorization": Bearer)
	mu                    sync.Mutex
	seen                  map[string]int
	last                  string
	cookies               []string
	unauthorized, answers atomic.Int64
}

func newUpstreamAPI(t *testing.T, provider, clientID, secret string) *upstreamAPI {
	u := &upstreamAPI{provider: provider, clientID: clientID, secret: secret, header: "Authorization", seen: map[string]int{}}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstreamAPI) active(tok string) bool {
	req, _ := http.NewRequest(http.MethodPost, u.provider+"/v1/oauth/introspect", strings.NewReader(url.Values{"token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(u.clientID), url.QueryEscape(u.secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var ans struct {
		Active bool `json:"active"`
	}
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&ans) == nil && ans.Active
}

// echo is what the upstream answers to /echo.
type echo struct {
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	RawQuery   string      `json:"raw_query"`
	Header     http.Header `json:"header"`
	BodySHA256 string      `json:"body_sha256"`
	BodyLen    int64       `json:"body_len"`
}

func (u *upstreamAPI) serve(w http.ResponseWriter, r *http.Request) {
	raw := r.Header.Get(u.header)
	tok := raw
	if u.header == "Authorization" {
		tok = strings.TrimPrefix(raw, "Bearer ")
	} else {
		tok = strings.TrimPrefix(raw, "token=")
	}
	u.mu.Lock()
	u.seen[raw]++
	u.last = tok
	u.cookies = append(u.cookies, r.Header.Values("Cookie")...)
	u.mu.Unlock()
	if !u.active(tok) {
		u.unauthorized.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	u.answers.Add(1)
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if strings.HasSuffix(r.URL.Path, "/big") {
		// 10 MiB back, streamed in 64 KiB chunks, no Content-Length.
		w.Header().Set("X-Request-Body-Sha256", sum)
		w.Header().Set("X-Request-Body-Len", fmt.Sprint(n))
		w.WriteHeader(http.StatusOK)
		bw := bufio.NewWriterSize(w, 64<<10)
		_, _ = io.Copy(bw, io.LimitReader(pattern{}, 10<<20))
		_ = bw.Flush()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Upstream", "yes")
	w.Header().Set("Connection", "X-Hop")
	w.Header().Set("X-Hop", "must not pass")
	_ = json.NewEncoder(w).Encode(echo{Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Header: r.Header, BodySHA256: sum, BodyLen: n})
}

func (u *upstreamAPI) lastToken() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

// pattern is an endless deterministic byte stream.
type pattern struct{}

func (pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return len(b), nil
}

func sha(r io.Reader) (string, int64) {
	h := sha256.New()
	n, _ := io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil)), n
}

// proxyCall sends method path through the proxy with the app's token.
func proxyCall(t *testing.T, s *server, token, method, path string, body io.Reader, headers ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx(t), method, s.URL+path, body)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return httpClient(t).Do(req)
}

// TestProxyAgainstUpstreamGatehouse: two instances of Gatehouse share a
// client_credentials credential whose provider is a second Gatehouse
// (behind a counter of its token requests) and whose base_url is the
// test's upstream API.
func TestProxyAgainstUpstreamGatehouse(t *testing.T) {
	t.Parallel()
	up := startServer(t)
	ua := adminAPI(t, up)
	upApp := ua.createApp(map[string]any{"name": uniqueName(t, "provider-client"), "access_token_ttl_seconds": 3600})
	counter := newTokenCounter(t, up.URL)
	api := newUpstreamAPI(t, up.URL, upApp.ClientID, upApp.ClientSecret)

	c := startCluster(t, 2, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"))
	for _, n := range c.nodes {
		watchUpstreamTokens(n)
	}
	a0 := adminAPI(t, c.nodes[0])
	app := a0.grantedApp(t, "integrator", "credentials:use")
	other := a0.grantedApp(t, "not-granted", "credentials:use")
	noScope := a0.createApp(map[string]any{"name": uniqueName(t, "no-scope")})
	appToken := a0.mint(appCreds(app)).AccessToken
	otherToken := a0.mint(appCreds(other)).AccessToken
	noScopeToken := a0.mint(appCreds(noScope)).AccessToken

	r := a0.call(http.MethodPost, "/v1/credentials", map[string]any{"name": "provider api", "provider": "custom",
		"grant_type": "client_credentials", "client_id": upApp.ClientID, "client_secret": upApp.ClientSecret,
		"token_url": counter.srv.URL + "/v1/oauth/token", "scopes": []string{}, "base_url": api.srv.URL + "/v2",
		"grants": []string{app.ID, noScope.ID}, "exchangeable": true})
	if r.Status != http.StatusCreated {
		t.Fatalf("create credential: %s", r)
	}
	var cred credentialView
	r.decode(t, &cred)
	if counter.n.Load() != 1 {
		t.Fatalf("token requests after create = %d, want 1", counter.n.Load())
	}
	base := "/v1/proxy/" + cred.ID

	t.Run("forwards method, path, query and headers", func(t *testing.T) {
		for i, n := range c.nodes {
			resp, err := proxyCall(t, n, appToken, http.MethodPut, base+"/echo/a%20b/c?x=1&y=%2F&x=2", strings.NewReader(`{"hello":"world"}`),
				"Content-Type", "application/json", "X-Custom", "kept", "Cookie", "gh_session=ours; theirs=1", "Connection", "X-Drop", "X-Drop", "hop", "Proxy-Authorization", "Basic Zm9vOmJhcg==")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("node %d: %d %s", i, resp.StatusCode, body)
			}
			var e echo
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatal(err)
			}
			wantSum, _ := sha(strings.NewReader(`{"hello":"world"}`))
			if e.Method != http.MethodPut || e.Path != "/v2/echo/a%20b/c" || e.RawQuery != "x=1&y=%2F&x=2" || e.BodySHA256 != wantSum ||
				e.Header.Get("X-Custom") != "kept" || e.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("node %d: upstream got %+v", i, e)
			}
			for _, h := range []string{"X-Drop", "Proxy-Authorization", "X-Forwarded-For", "Forwarded"} {
				if e.Header.Get(h) != "" {
					t.Errorf("node %d: %s reached the upstream: %q", i, h, e.Header.Get(h))
				}
			}
			if got := e.Header.Values("Cookie"); len(got) != 1 || got[0] != "theirs=1" {
				t.Errorf("node %d: cookies upstream = %q, want only theirs=1", i, got)
			}
			if !strings.HasPrefix(e.Header.Get("Authorization"), "Bearer ") || e.Header.Get("Authorization") == "Bearer "+appToken {
				t.Errorf("node %d: Authorization upstream = %q", i, e.Header.Get("Authorization"))
			}
			if resp.Header.Get("X-Upstream") != "yes" || resp.Header.Get("X-Hop") != "" {
				t.Errorf("node %d: answer headers %v", i, resp.Header)
			}
		}
	})

	t.Run("every method", func(t *testing.T) {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			r := newAPI(t, c.nodes[0], appToken).call(m, base+"/echo?m="+m, nil)
			var e echo
			if r.Status != http.StatusOK || json.Unmarshal(r.Body, &e) != nil || e.Method != m || e.RawQuery != "m="+m {
				t.Fatalf("%s: %s", m, r)
			}
		}
	})

	t.Run("streams 10 MiB both ways", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			_, err := io.Copy(pw, io.LimitReader(pattern{}, 10<<20))
			pw.CloseWithError(err)
		}()
		resp, err := proxyCall(t, c.nodes[1], appToken, http.MethodPost, base+"/big", pr, "Content-Type", "application/octet-stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		wantSum, _ := sha(io.LimitReader(pattern{}, 10<<20))
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Request-Body-Sha256") != wantSum || resp.Header.Get("X-Request-Body-Len") != fmt.Sprint(10<<20) {
			t.Fatalf("upload: %d %v", resp.StatusCode, resp.Header)
		}
		got, n := sha(resp.Body)
		if got != wantSum || n != 10<<20 {
			t.Fatalf("download: %d bytes, sha %s, want %s", n, got, wantSum)
		}
	})

	t.Run("refused", func(t *testing.T) {
		a0, ua := a0.in(t), ua.in(t)
		_, _ = a0, ua
		// Without the scope, not in the grants, unknown, no token.
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			a := newAPI(t, c.nodes[0], noScopeToken)
			wantProblem(t, a.call(m, base+"/echo", nil), http.StatusForbidden, "insufficient_scope")
			wantProblem(t, a.as(otherToken).call(m, base+"/echo", nil), http.StatusForbidden, "forbidden")
			wantProblem(t, a.as(appToken).call(m, "/v1/proxy/cred_unknown/echo", nil), http.StatusNotFound, "not_found")
			wantProblem(t, a.as("").call(m, base+"/echo", nil), http.StatusUnauthorized, "unauthorized")
			wantProblem(t, a.as(appToken).call(m, base+"/..", nil), http.StatusBadRequest, "validation_error")
		}
		// A credential without base_url is 409.
		r := a0.call(http.MethodPost, "/v1/credentials", map[string]any{"name": "no base", "provider": "custom",
			"grant_type": "client_credentials", "client_id": upApp.ClientID, "client_secret": upApp.ClientSecret,
			"token_url": counter.srv.URL + "/v1/oauth/token", "scopes": []string{}, "grants": []string{app.ID}})
		if r.Status != http.StatusCreated {
			t.Fatalf("create: %s", r)
		}
		var nb credentialView
		r.decode(t, &nb)
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			wantProblem(t, newAPI(t, c.nodes[1], appToken).call(m, "/v1/proxy/"+nb.ID+"/echo", nil), http.StatusConflict, "conflict")
		}
		// A declared body over 64 MiB: 413 before anything is read.
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			conn, err := net.Dial("tcp", strings.TrimPrefix(c.nodes[0].URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "%s %s/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", m, base, appToken, 65<<20)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			conn.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("%s with 65 MiB declared: %d", m, resp.StatusCode)
			}
			noteAnswer(m, base+"/echo", resp.StatusCode)
		}
		// Revoking the grant: 403 at once on both instances.
		r = a0.call(http.MethodPatch, "/v1/credentials/"+nb.ID, map[string]any{"grants": []string{}})
		if r.Status != http.StatusOK {
			t.Fatalf("patch grants: %s", r)
		}
		for _, n := range c.nodes {
			wantProblem(t, newAPI(t, n, appToken).call(http.MethodGet, "/v1/proxy/"+nb.ID+"/echo", nil), http.StatusForbidden, "forbidden")
		}
	})

	t.Run("our bearer never reaches the upstream", func(t *testing.T) {
		api.mu.Lock()
		defer api.mu.Unlock()
		for h := range api.seen {
			if strings.Contains(h, appToken) || strings.Contains(h, otherToken) || strings.Contains(h, noScopeToken) {
				t.Fatalf("the upstream saw a Gatehouse token: %q", h)
			}
		}
		for _, ck := range api.cookies {
			if strings.Contains(ck, "gh_session") {
				t.Fatalf("the upstream saw our cookie: %q", ck)
			}
		}
	})

	t.Run("401 after the provider revoked the token: one refresh, one retry", func(t *testing.T) {
		a0, ua := a0.in(t), ua.in(t)
		_, _ = a0, ua
		old := api.lastToken()
		if r := ua.form("/v1/oauth/revoke", url.Values{"token": {old}}, upApp.ClientID, upApp.ClientSecret); r.Status != http.StatusOK {
			t.Fatalf("revoke at the provider: %s", r)
		}
		before, unauth := counter.n.Load(), api.unauthorized.Load()
		resp, err := proxyCall(t, c.nodes[0], appToken, http.MethodPost, base+"/echo?after=revoke", strings.NewReader("small body, replayed"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e echo
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &e) != nil || e.BodyLen != int64(len("small body, replayed")) {
			t.Fatalf("after revoke: %d %s", resp.StatusCode, body)
		}
		if got := counter.n.Load() - before; got != 1 {
			t.Fatalf("token requests = %d, want 1", got)
		}
		if got := api.unauthorized.Load() - unauth; got != 1 {
			t.Fatalf("upstream 401s = %d, want 1", got)
		}
		if api.lastToken() == old {
			t.Fatal("the retry sent the revoked token")
		}
	})

	t.Run("200 concurrent calls on two instances across a revocation: one refresh", func(t *testing.T) {
		a0, ua := a0.in(t), ua.in(t)
		_, _ = a0, ua
		old := api.lastToken()
		if r := ua.form("/v1/oauth/revoke", url.Values{"token": {old}}, upApp.ClientID, upApp.ClientSecret); r.Status != http.StatusOK {
			t.Fatalf("revoke at the provider: %s", r)
		}
		before := counter.n.Load()
		var wg sync.WaitGroup
		errs := make(chan string, 200)
		for i := range 200 {
			wg.Go(func() {
				resp, err := proxyCall(t, c.nodes[i%2], appToken, http.MethodGet, fmt.Sprintf("%s/echo?i=%d", base, i), nil)
				if err != nil {
					errs <- err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Sprintf("%d %s", resp.StatusCode, b)
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		if got := counter.n.Load() - before; got != 1 {
			t.Fatalf("token requests across 200 calls = %d, want exactly 1", got)
		}
	})

	t.Run("token exchange", func(t *testing.T) {
		a0, ua := a0.in(t), ua.in(t)
		_, _ = a0, ua
		exchange := func(s *server, clientID, secret, subject, resource string) reply {
			return newAPI(t, s, "").form("/v1/oauth/token", url.Values{
				"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {subject},
				"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "resource": {resource}}, clientID, secret)
		}
		r := exchange(c.nodes[1], app.ClientID, app.ClientSecret, appToken, cred.ID)
		if r.Status != http.StatusOK {
			t.Fatalf("exchange: %s", r)
		}
		var ans map[string]any
		r.decode(t, &ans)
		tok, _ := ans["access_token"].(string)
		exp, _ := ans["expires_in"].(float64)
		if tok == "" || ans["issued_token_type"] != "urn:ietf:params:oauth:token-type:access_token" || ans["token_type"] != "Bearer" ||
			exp < 3000 || exp > 3600 || ans["refresh_token"] != nil || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("exchange answer %s", r)
		}
		if !api.active(tok) {
			t.Fatal("the exchanged token is not active at the provider")
		}
		// Refused: another app's subject token, a subject token of
		// another client, no credentials:use, a non-exchangeable one.
		wantOAuthError(t, exchange(c.nodes[0], app.ClientID, app.ClientSecret, otherToken, cred.ID), http.StatusBadRequest, "invalid_request")
		wantOAuthError(t, exchange(c.nodes[0], other.ClientID, other.ClientSecret, otherToken, cred.ID), http.StatusBadRequest, "invalid_target")
		wantOAuthError(t, exchange(c.nodes[0], noScope.ClientID, noScope.ClientSecret, noScopeToken, cred.ID), http.StatusBadRequest, "unauthorized_client")
		wantOAuthError(t, exchange(c.nodes[0], app.ClientID, app.ClientSecret, "not-a-token", cred.ID), http.StatusBadRequest, "invalid_request")
		if r := a0.call(http.MethodPatch, "/v1/credentials/"+cred.ID, map[string]any{"exchangeable": false}); r.Status != http.StatusOK {
			t.Fatalf("patch: %s", r)
		}
		wantOAuthError(t, exchange(c.nodes[1], app.ClientID, app.ClientSecret, appToken, cred.ID), http.StatusBadRequest, "invalid_target")
		// Another tenant's app naming this tenant's credential.
		b := freshTenant(t, c.nodes[0], "exchange-b")
		bApp := b.grantedApp(t, "b-app", "credentials:use")
		bTok := b.mint(appCreds(bApp)).AccessToken
		wantOAuthError(t, exchange(c.nodes[0], bApp.ClientID, bApp.ClientSecret, bTok, cred.ID), http.StatusBadRequest, "invalid_target")
		wantProblem(t, newAPI(t, c.nodes[0], bTok).call(http.MethodGet, base+"/echo", nil), http.StatusNotFound, "not_found")
		// Discovery advertises it.
		var md struct {
			Grants []string `json:"grant_types_supported"`
		}
		a0.call(http.MethodGet, "/.well-known/oauth-authorization-server", nil).decode(t, &md)
		if !bytes.Contains(mustJSON(t, md.Grants), []byte("urn:ietf:params:oauth:grant-type:token-exchange")) {
			t.Fatalf("discovery grants %v", md.Grants)
		}
	})

	t.Run("use is counted", func(t *testing.T) {
		r := newAPI(t, c.nodes[0], "").call(http.MethodGet, "/metrics", nil)
		want := fmt.Sprintf(`gatehouse_proxy_requests_total{app=%q,credential=%q,outcome="2xx"}`, app.ID, cred.ID)
		if !strings.Contains(string(r.Body), want) {
			t.Fatalf("metrics lack %s", want)
		}
	})
}

// TestProxyRefusesPrivateAddresses: with GATEHOUSE_WEBHOOK_ALLOW_PRIVATE
// off (the default), a base_url on a loopback or private address is
// refused when it is set, as webhook URLs are.
func TestProxyRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	s := startServer(t, withEnv("PROXY_RATE", "1"), withEnv("PROXY_BURST", "1"))
	a := adminAPI(t, s)
	user := a.grantedApp(t, "user", "credentials:use")
	for _, u := range []string{"https://127.0.0.1:8443/api", "https://10.0.0.7/api", "https://localhost/api", "https://[::1]/api", "http://169.254.169.254/latest"} {
		r := a.call(http.MethodPost, "/v1/credentials", map[string]any{"name": uniqueName(t, "private"), "provider": "github",
			"client_id": "cid", "client_secret": "a-client-secret-of-github", "base_url": u})
		p := wantProblem(t, r, http.StatusBadRequest, "validation_error")
		if !slicesContains(p.fields(), "base_url") {
			t.Fatalf("%s: %s", u, r)
		}
	}
	r := a.call(http.MethodPost, "/v1/credentials", map[string]any{"name": uniqueName(t, "public"), "provider": "github",
		"client_id": "cid", "client_secret": "a-client-secret-of-github", "base_url": "https://93.184.215.14/api", "grants": []string{user.ID}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %s", r)
	}
	var cv credentialView
	r.decode(t, &cv)
	wantProblem(t, a.call(http.MethodPatch, "/v1/credentials/"+cv.ID, map[string]any{"base_url": "https://192.168.1.1/"}), http.StatusBadRequest, "validation_error")

	// GATEHOUSE_PROXY_RATE=1, burst 1: the credential's first call is
	// admitted (409: it has no token yet, never authorized), the next
	// ones within the second are 429 whatever the method.
	ua := a.tokenOf(user)
	wantProblem(t, ua.call(http.MethodGet, "/v1/proxy/"+cv.ID+"/user", nil), http.StatusConflict, "conflict")
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		r := ua.call(m, "/v1/proxy/"+cv.ID+"/user", nil)
		wantProblem(t, r, http.StatusTooManyRequests, "rate_limited")
		if r.Header.Get("Retry-After") == "" {
			t.Fatalf("429 without Retry-After: %v", r.Header)
		}
	}
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestProxyAcrossExpiry: 200 callers keep calling through two instances
// from before the credential's first token set is refreshed until past
// its expiry (60 s tokens, refresh_before_seconds 10): every call is
// answered 200 with a live token, and the provider sees exactly one
// token request in that window (the one refresh of that version, one
// instance claiming it), never one per caller or per instance.
func TestProxyAcrossExpiry(t *testing.T) {
	t.Parallel()
	up := startServer(t)
	ua := adminAPI(t, up)
	upApp := ua.createApp(map[string]any{"name": uniqueName(t, "provider-client"), "access_token_ttl_seconds": 60})
	counter := newTokenCounter(t, up.URL)
	api := newUpstreamAPI(t, up.URL, upApp.ClientID, upApp.ClientSecret)
	c := startCluster(t, 2, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"), withEnv("RATE_PLATFORM", "0"))
	a0 := adminAPI(t, c.nodes[0])
	app := a0.grantedApp(t, "integrator", "credentials:use")
	appToken := a0.mint(appCreds(app)).AccessToken
	r := a0.call(http.MethodPost, "/v1/credentials", map[string]any{"name": "expiring", "provider": "custom",
		"grant_type": "client_credentials", "client_id": upApp.ClientID, "client_secret": upApp.ClientSecret,
		"token_url": counter.srv.URL + "/v1/oauth/token", "scopes": []string{}, "base_url": api.srv.URL,
		"grants": []string{app.ID}, "refresh_before_seconds": 10})
	if r.Status != http.StatusCreated {
		t.Fatalf("create credential: %s", r)
	}
	var cred credentialView
	r.decode(t, &cred)
	if cred.ExpiresAt == nil {
		t.Fatalf("no expiry: %s", r)
	}
	first := *cred.ExpiresAt
	// The refresh is due 10 s (less up to 1 s of jitter) before expiry:
	// start 15 s before it, end 3 s after it.
	start, end := first.Add(-15*time.Second), first.Add(3*time.Second)
	waitFor(t, 70*time.Second, "15 s before the first expiry", func() bool { return !time.Now().Before(start) })
	before := counter.n.Load()
	var wg sync.WaitGroup
	var calls, failed, viaSecond atomic.Int64
	errs := make(chan string, 16)
	for i := range 200 {
		wg.Go(func() {
			hc := httpClient(t)
			for time.Now().Before(end) {
				req, _ := http.NewRequestWithContext(ctx(t), http.MethodGet, fmt.Sprintf("%s/v1/proxy/%s/echo?i=%d", c.nodes[i%2].URL, cred.ID, i), nil)
				req.Header.Set("Authorization", "Bearer "+appToken)
				resp, err := hc.Do(req)
				calls.Add(1)
				if err != nil {
					failed.Add(1)
					select {
					case errs <- err.Error():
					default:
					}
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && i%2 == 1 {
					viaSecond.Add(1)
				}
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					select {
					case errs <- fmt.Sprintf("%d %s", resp.StatusCode, b):
					default:
					}
				}
				// Paced: 200 callers, each about 10 calls a second.
				<-time.After(100 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if failed.Load() > 0 {
		t.Fatalf("%d of %d calls failed", failed.Load(), calls.Load())
	}
	if got := counter.n.Load() - before; got != 1 {
		t.Fatalf("token requests across the expiry = %d, want exactly 1 (%d calls)", got, calls.Load())
	}
	var h credentialHealth
	a0.call(http.MethodGet, "/v1/credentials/"+cred.ID+"/health", nil).decode(t, &h)
	if h.ExpiresAt == nil || !h.ExpiresAt.After(first) {
		t.Fatalf("not refreshed: %+v", h)
	}
	if api.unauthorized.Load() != 0 {
		t.Fatalf("the upstream refused %d calls", api.unauthorized.Load())
	}
	t.Logf("%d calls across the expiry at %s", calls.Load(), first.Format(time.RFC3339))

	// The use summary in the credential's read: the second instance,
	// stopped, writes its counts (credential.used per minute, app and
	// instance; the current minute's at shutdown); the first shows them
	// with whatever minutes it has written itself: at least the second's
	// calls, at most all of them, all by this app.
	if err := c.nodes[1].stop(); err != nil {
		t.Fatalf("stopping the second instance: %v", err)
	}
	var read struct {
		LastUsedAt *time.Time `json:"last_used_at"`
		Usage      struct {
			WindowSeconds int64 `json:"window_seconds"`
			Requests      int64 `json:"requests"`
			Exchanges     int64 `json:"exchanges"`
			Apps          []struct {
				AppID    string `json:"app_id"`
				Requests int64  `json:"requests"`
			} `json:"apps"`
		} `json:"usage"`
	}
	waitFor(t, 30*time.Second, "the second instance's use counts in the credential's read", func() bool {
		a0.call(http.MethodGet, "/v1/credentials/"+cred.ID, nil).decode(t, &read)
		return read.Usage.Requests >= viaSecond.Load()
	})
	u := read.Usage
	if u.WindowSeconds != 3600 || u.Requests > calls.Load() || u.Exchanges != 0 || len(u.Apps) != 1 || u.Apps[0].AppID != app.ID ||
		u.Apps[0].Requests != u.Requests {
		t.Fatalf("usage %+v after %d calls (%d through the second instance)", u, calls.Load(), viaSecond.Load())
	}
	if read.LastUsedAt == nil || time.Since(*read.LastUsedAt) > 3*time.Minute {
		t.Fatalf("last_used_at %v", read.LastUsedAt)
	}
}
