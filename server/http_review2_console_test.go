package server_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestReview2ConsoleRedirectURIExact: the console's built-in client
// (gatehouse-console.<tenant>, public, no consent) answers only at
// <issuer>/console/callback, exactly. With a loopback issuer (as here and
// in a developer's setup) fosite's RFC 8252 rule would let any port of
// the loopback address stand in: a link to /v1/oauth/authorize naming
// http://127.0.0.1:<another port>/console/callback and the linker's own
// PKCE challenge would hand a signed-in admin's code, without consent, to
// whatever listens on that port, and the linker could redeem it for
// tenant-admin tokens. It must get the error page, never a redirect.
func TestReview2ConsoleRedirectURIExact(t *testing.T) {
	s := servertest.New(t)
	userID := newUser(t, s, "ada@example.com")
	want(t, s.Do(http.MethodPatch, "/v1/platform/users/"+userID, s.Token(), map[string]any{"roles": []string{"admin"}}), http.StatusOK)
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	issuer, _ := url.Parse(s.URL)
	evil := "http://127.0.0.1:1/console/callback"
	if issuer.Port() == "1" {
		evil = "http://127.0.0.1:2/console/callback"
	}
	q := url.Values{"response_type": {"code"}, "client_id": {"gatehouse-console.default"}, "redirect_uri": {evil},
		"scope": {"openid offline_access platform:apps:read"}, "state": {"attacker-state-123"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	authURL := s.URL + "/v1/oauth/authorize?" + q.Encode()
	// The admin signs in (the login page) and the browser comes back to
	// the authorization endpoint with the same request.
	res, _ := b.get(authURL)
	if strings.HasPrefix(res.Header.Get("Location"), "/login") {
		res, body := b.follow(s.URL, res)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("login page %d: %s", res.StatusCode, body)
		}
		res, body = b.post(s.URL+"/login", url.Values{"csrf_token": {field(t, csrfRe, body)}, "return_to": {field(t, returnToRe, body)},
			"email": {"ada@example.com"}, "password": {idpPassword}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("login %d: %s", res.StatusCode, body)
		}
		res, _ = b.follow(s.URL, res)
		if loc := res.Header.Get("Location"); strings.HasPrefix(loc, "http://127.0.0.1:") && !strings.HasPrefix(loc, s.URL) {
			t.Fatalf("the console's code went to another port: %s", loc)
		}
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("authorize with a console redirect URI of another port: %d %q, want the 400 error page", res.StatusCode, res.Header.Get("Location"))
		}
		return
	}
	if loc := res.Header.Get("Location"); strings.HasPrefix(loc, "http://127.0.0.1:") && !strings.HasPrefix(loc, s.URL) {
		t.Fatalf("the console's code went to another port: %s", loc)
	}
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("authorize with a console redirect URI of another port: %d %q, want the 400 error page", res.StatusCode, res.Header.Get("Location"))
	}
}

// TestReview2RefreshInFlightAcrossReauthorization: a refresh that was
// at the provider when a PATCH changed the credential's scopes (a change
// that needs reauthorization: the old token sets are no longer served)
// must not bring a token set of the old settings back as current when
// its answer arrives: the credential stays pending_authorization with
// no current version, and the provider's new authorization is what makes
// it active again.
func TestReview2RefreshInFlightAcrossReauthorization(t *testing.T) {
	prov := newCodeProvider(t)
	s := servertest.New(t)
	admin := s.Token()
	var c struct {
		credential
		AuthorizeURL *string `json:"authorize_url"`
	}
	want(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": "fake", "provider": "custom",
		"client_id": "fake-client", "client_secret": "fake-secret-value-1234", "auth_url": prov.srv.URL + "/authorize",
		"token_url": prov.srv.URL + "/token", "scopes": []string{"read"}}), http.StatusCreated).JSON(t, &c)
	res, _ := get(t, *c.AuthorizeURL)
	if res, page := get(t, res.Header.Get("Location")); res.StatusCode != http.StatusOK {
		t.Fatalf("authorization %d %s", res.StatusCode, page)
	}
	one := "/v1/credentials/" + c.ID
	var h credHealth
	want(t, s.Do(http.MethodGet, one+"/health", admin, nil), http.StatusOK).JSON(t, &h)
	attempts := h.RefreshAttempts

	// The provider's token endpoint holds the refresh until released.
	prov.mu.Lock()
	locked := true
	defer func() {
		if locked {
			prov.mu.Unlock()
		}
	}()
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequestWithContext(context.WithoutCancel(t.Context()), http.MethodPost, s.URL+one+"/refresh", nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		r.Body.Close()
		done <- r.StatusCode
	}()
	deadline := time.Now().Add(10 * time.Second)
	for h.RefreshAttempts == attempts { // claimed: the refresh is at the provider
		if time.Now().After(deadline) {
			t.Fatal("the forced refresh was not claimed within 10 s")
		}
		time.Sleep(10 * time.Millisecond) // poll interval
		want(t, s.Do(http.MethodGet, one+"/health", admin, nil), http.StatusOK).JSON(t, &h)
	}
	var p credential
	want(t, s.Do(http.MethodPatch, one, admin, map[string]any{"scopes": []string{"read", "write"}}), http.StatusOK).JSON(t, &p)
	if p.Status != "pending_authorization" {
		t.Fatalf("scopes patch %+v", p)
	}
	prov.mu.Unlock()
	locked = false
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the forced refresh did not answer within 20 s")
	}
	var got credential
	want(t, s.Do(http.MethodGet, one, admin, nil), http.StatusOK).JSON(t, &got)
	var vers credVersions
	want(t, s.Do(http.MethodGet, one+"/versions", admin, nil), http.StatusOK).JSON(t, &vers)
	for _, v := range vers.Items {
		if v.Current {
			t.Fatalf("a token set of the old settings is current after the reauthorizing PATCH: %+v (credential %+v)", vers, got)
		}
	}
	if got.Status != "pending_authorization" {
		t.Fatalf("status %q after the in-flight refresh, want pending_authorization (versions %+v)", got.Status, vers)
	}
}

// TestReview2PatchTokenURLKeepsStoredSecret: credentials:write may
// re-point a custom credential's token_url (PATCH), but the stored client
// secret (write-only: never answered) must not follow it to the new
// endpoint unless the PATCH gives the secret again; otherwise a writer
// learns the secret by pointing token_url at a server of theirs. The
// PATCH without client_secret is 400 on client_secret and the new
// endpoint sees nothing; with a client_secret it proceeds, and the new
// endpoint sees only that one.
func TestReview2PatchTokenURLKeepsStoredSecret(t *testing.T) {
	up := servertest.New(t)
	upstream := createApp(t, up, up.Token(), map[string]any{"name": "vault-client"})
	var mu sync.Mutex
	var seen []string
	capture := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization")+" "+string(body))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"captured-access-token-1234","token_type":"Bearer","expires_in":3600}`))
	}))
	t.Cleanup(capture.Close)
	s := servertest.New(t)
	admin := s.Token()
	var c credential
	want(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": "cc", "provider": "custom", "grant_type": "client_credentials",
		"client_id": upstream.ClientID, "client_secret": upstream.ClientSecret, "token_url": up.URL + "/v1/oauth/token", "scopes": []string{}}), http.StatusCreated).JSON(t, &c)
	one := "/v1/credentials/" + c.ID
	leaked := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range seen {
			basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(upstream.ClientID) + ":" + url.QueryEscape(upstream.ClientSecret)))
			if strings.Contains(s, upstream.ClientSecret) || strings.Contains(s, url.QueryEscape(upstream.ClientSecret)) || strings.Contains(s, basic) {
				return true
			}
		}
		return false
	}
	r := s.Do(http.MethodPatch, one, admin, map[string]any{"token_url": capture.URL + "/token"})
	if leaked() {
		t.Fatalf("the stored client secret went to the new token_url (PATCH answered %d)", r.Status)
	}
	pr := wantProblem(t, r, http.StatusBadRequest, "validation_error")
	if !strings.Contains(problemFields(pr), "client_secret") {
		t.Fatalf("refused %+v", pr)
	}
	var after credential
	want(t, s.Do(http.MethodGet, one, admin, nil), http.StatusOK).JSON(t, &after)
	if after.Version != c.Version || after.TokenURL != up.URL+"/v1/oauth/token" {
		t.Fatalf("a refused PATCH changed the credential: %+v → %+v", c, after)
	}
	// With the secret given again, the change goes through.
	want(t, s.Do(http.MethodPatch, one, admin, map[string]any{"token_url": capture.URL + "/token", "client_secret": "another-secret-of-the-new-endpoint"}), http.StatusOK)
	if leaked() {
		t.Fatal("the stored client secret went to the new token_url")
	}
}
