package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/server/servertest"
	"github.com/gatehouse/gatehouse/vault"
)

// credential is the credential object of API.md "Upstream credentials".
type credential struct {
	ID           string     `json:"id"`
	Name         string     `json:"name"`
	Provider     string     `json:"provider"`
	GrantType    string     `json:"grant_type"`
	ClientID     string     `json:"client_id"`
	Scopes       []string   `json:"scopes"`
	Status       string     `json:"status"`
	RedirectURI  string     `json:"redirect_uri"`
	TokenURL     string     `json:"token_url"`
	ExpiresAt    *time.Time `json:"expires_at"`
	Version      int        `json:"version"`
	Grants       []string   `json:"grants"`
	Exchangeable bool       `json:"exchangeable"`
}

type credHealth struct {
	Status              string     `json:"status"`
	LastRefreshedAt     *time.Time `json:"last_refreshed_at"`
	ExpiresAt           *time.Time `json:"expires_at"`
	NextRefreshAt       *time.Time `json:"next_refresh_at"`
	RefreshAttempts     int        `json:"refresh_attempts"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastError           *string    `json:"last_error"`
}

type credVersions struct {
	Items []struct {
		Version int    `json:"version"`
		Reason  string `json:"reason"`
		Current bool   `json:"current"`
	} `json:"items"`
}

// TestHTTPCredentialsAgainstGatehouse stores a client_credentials
// credential whose provider is a second Gatehouse (a custom provider
// pointing at its token endpoint): bad input and a refused grant change
// nothing; create fetches the tokens before answering; read, list, patch
// (If-Match), forced refresh, versions, rollback, health, delete; no
// answer, nor the feed, ever shows the client secret or a token.
func TestHTTPCredentialsAgainstGatehouse(t *testing.T) {
	up := servertest.New(t)
	upstream := createApp(t, up, up.Token(), map[string]any{"name": "vault-client", "access_token_ttl_seconds": 60})
	s := servertest.New(t)
	admin := s.Token()
	var answers []string
	do := func(method, path string, body any, headers ...string) servertest.Response {
		r := s.Do(method, path, admin, body, headers...)
		answers = append(answers, string(r.Body))
		return r
	}
	body := func(extra map[string]any) map[string]any {
		b := map[string]any{"name": "upstream gatehouse", "provider": "custom", "grant_type": "client_credentials",
			"client_id": upstream.ClientID, "client_secret": upstream.ClientSecret, "token_url": up.URL + "/v1/oauth/token", "scopes": []string{}}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}

	// Bad input: every invalid field in one 400, nothing stored.
	wantProblem(t, s.Do(http.MethodPost, "/v1/credentials", "", body(nil)), http.StatusUnauthorized, "unauthorized")
	p := wantProblem(t, do(http.MethodPost, "/v1/credentials", map[string]any{"provider": "myspace", "grant_type": "magic"}), http.StatusBadRequest, "validation_error")
	if fields := problemFields(p); !strings.Contains(fields, "name") || !strings.Contains(fields, "provider") || !strings.Contains(fields, "client_id") || !strings.Contains(fields, "grant_type") {
		t.Fatalf("fields %s", fields)
	}
	wantProblem(t, do(http.MethodPost, "/v1/credentials", body(map[string]any{"token_url": nil})), http.StatusBadRequest, "validation_error")
	wantProblem(t, do(http.MethodPost, "/v1/credentials", body(map[string]any{"token_url": "ftp://example.com/token"})), http.StatusBadRequest, "validation_error")
	wantProblem(t, do(http.MethodPost, "/v1/credentials", body(map[string]any{"provider": "google"})), http.StatusBadRequest, "validation_error") // token_url is the preset's
	wantProblem(t, do(http.MethodPost, "/v1/credentials", body(map[string]any{"grant_type": "password"})), http.StatusBadRequest, "validation_error")
	wantProblem(t, do(http.MethodPost, "/v1/credentials", body(map[string]any{"surprise": 1})), http.StatusBadRequest, "validation_error")
	wantProblem(t, do(http.MethodPost, "/v1/secrets", body(nil)), http.StatusBadRequest, "validation_error") // secret_type is required there
	wantProblem(t, do(http.MethodPost, "/v1/secrets", body(map[string]any{"secret_type": "kv"})), http.StatusBadRequest, "validation_error")
	// The provider refuses a wrong secret: 502 naming its error, nothing stored.
	r := do(http.MethodPost, "/v1/credentials", body(map[string]any{"client_secret": "wrong-secret-value"}))
	if wantProblem(t, r, http.StatusBadGateway, "upstream_error"); !strings.Contains(string(r.Body), "invalid_client") {
		t.Fatalf("the 502 does not name the provider's error: %s", r.Body)
	}
	var list struct {
		Items      []credential `json:"items"`
		NextCursor string       `json:"next_cursor"`
	}
	want(t, do(http.MethodGet, "/v1/credentials", nil), http.StatusOK).JSON(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("a refused create stored %+v", list.Items)
	}

	// Create: the tokens are fetched before the answer.
	var c credential
	r = want(t, do(http.MethodPost, "/v1/credentials", body(nil)), http.StatusCreated)
	r.JSON(t, &c)
	if c.Name != "upstream_gatehouse" || c.Status != "active" || c.GrantType != "client_credentials" || c.ExpiresAt == nil ||
		c.ExpiresAt.Before(time.Now().Add(30*time.Second)) || c.RedirectURI != s.URL+"/v1/credentials/callback" || r.Header.Get("ETag") == "" {
		t.Fatalf("created %s", r.Body)
	}
	wantProblem(t, do(http.MethodPost, "/v1/credentials", body(nil)), http.StatusConflict, "conflict") // the name is taken
	// Also through /v1/secrets.
	var c2 credential
	want(t, do(http.MethodPost, "/v1/secrets", body(map[string]any{"secret_type": "oauth2", "name": "second"})), http.StatusCreated).JSON(t, &c2)

	// Read, list with paging.
	one := "/v1/credentials/" + c.ID
	var got credential
	want(t, do(http.MethodGet, one, nil), http.StatusOK).JSON(t, &got)
	if got.ID != c.ID || got.Version != c.Version {
		t.Fatalf("get %+v, want %+v", got, c)
	}
	want(t, do(http.MethodGet, "/v1/credentials?limit=1", nil), http.StatusOK).JSON(t, &list)
	if len(list.Items) != 1 || list.NextCursor == "" {
		t.Fatalf("first page %+v", list)
	}
	wantProblem(t, do(http.MethodGet, "/v1/credentials/cred_missing", nil), http.StatusNotFound, "not_found")

	// Patch with If-Match.
	wantProblem(t, do(http.MethodPatch, one, map[string]any{"name": "renamed"}, "If-Match", etag(c.Version+5)), http.StatusPreconditionFailed, "precondition_failed")
	wantProblem(t, do(http.MethodPatch, one, map[string]any{"name": "second"}), http.StatusConflict, "conflict")
	wantProblem(t, do(http.MethodPatch, one, map[string]any{"refresh_before_seconds": 1}), http.StatusBadRequest, "validation_error")
	want(t, do(http.MethodPatch, one, map[string]any{"name": "renamed cred", "grants": []string{"app_x"}, "exchangeable": true}, "If-Match", etag(c.Version)), http.StatusOK).JSON(t, &got)
	if got.Name != "renamed_cred" || !got.Exchangeable || len(got.Grants) != 1 || got.Version != c.Version+1 {
		t.Fatalf("patched %+v", got)
	}

	// Forced refresh: a new version, current.
	want(t, do(http.MethodPost, one+"/refresh", nil), http.StatusOK).JSON(t, &got)
	var vers credVersions
	want(t, do(http.MethodGet, one+"/versions", nil), http.StatusOK).JSON(t, &vers)
	if len(vers.Items) != 2 || vers.Items[0].Version != 2 || !vers.Items[0].Current || vers.Items[0].Reason != "forced" || vers.Items[1].Current {
		t.Fatalf("versions %+v", vers)
	}
	var h credHealth
	want(t, do(http.MethodGet, one+"/health", nil), http.StatusOK).JSON(t, &h)
	if h.Status != "active" || h.RefreshAttempts != 1 || h.ConsecutiveFailures != 0 || h.LastRefreshedAt == nil || h.NextRefreshAt == nil || h.ExpiresAt == nil {
		t.Fatalf("health %+v", h)
	}
	// Rollback to version 1 (still valid); to itself or an unknown one: 409.
	wantProblem(t, do(http.MethodPost, one+"/rollback", map[string]any{"version": 9}), http.StatusConflict, "conflict")
	wantProblem(t, do(http.MethodPost, one+"/rollback", map[string]any{}), http.StatusBadRequest, "validation_error")
	want(t, do(http.MethodPost, one+"/rollback", map[string]any{"version": 1}), http.StatusOK)
	want(t, do(http.MethodGet, one+"/versions", nil), http.StatusOK).JSON(t, &vers)
	if !vers.Items[1].Current || vers.Items[0].Current {
		t.Fatalf("after rollback %+v", vers)
	}
	wantProblem(t, do(http.MethodPost, one+"/rollback", map[string]any{"version": 1}), http.StatusConflict, "conflict")

	// Tenant health.
	var th struct {
		Total  int            `json:"total"`
		Counts map[string]int `json:"counts"`
	}
	want(t, do(http.MethodGet, "/v1/credentials/health", nil), http.StatusOK).JSON(t, &th)
	if th.Total != 2 || th.Counts["active"] != 2 {
		t.Fatalf("tenant health %+v", th)
	}

	// The upstream app deleted: a forced refresh is 502 and recorded.
	want(t, up.Do(http.MethodDelete, "/v1/platform/apps/"+upstream.ID, up.Token(), nil), http.StatusNoContent)
	wantProblem(t, do(http.MethodPost, one+"/refresh", nil), http.StatusBadGateway, "upstream_error")
	want(t, do(http.MethodGet, one+"/health", nil), http.StatusOK).JSON(t, &h)
	if h.ConsecutiveFailures != 1 || h.LastError == nil || !strings.Contains(*h.LastError, "invalid_client") || h.Status != "active" {
		t.Fatalf("health after a refused refresh %+v", h)
	}

	// Delete; the name is free again.
	wantProblem(t, do(http.MethodDelete, one, nil, "If-Match", etag(99)), http.StatusPreconditionFailed, "precondition_failed")
	want(t, do(http.MethodDelete, one, nil), http.StatusNoContent)
	wantProblem(t, do(http.MethodGet, one, nil), http.StatusNotFound, "not_found")

	// Leak watch: neither the client secret nor any upstream token in an
	// answer or in the feed.
	feed := want(t, s.Do(http.MethodGet, "/v1/platform/events?limit=500", admin, nil), http.StatusOK)
	answers = append(answers, string(feed.Body))
	if !strings.Contains(string(feed.Body), "credential.tokens_stored") {
		t.Fatalf("the feed lacks the vault's events: %.400s", feed.Body)
	}
	all := strings.Join(answers, "\n")
	for _, secret := range []string{upstream.ClientSecret, "eyJ"} {
		if strings.Contains(all, secret) {
			t.Fatalf("an answer or the feed holds %q", secret)
		}
	}
}

// fakeProvider is a token endpoint that issues short tokens with
// rotating refresh tokens, counts its calls and can refuse refreshes.
type fakeProvider struct {
	mu        sync.Mutex
	n         int
	refreshes int
	valid     string // the refresh token that works
	refuse    string // error to answer to refreshes ("": none)
	reused    bool   // a refresh token was used after it was rotated
	ttl       int
}

func (f *fakeProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_ = r.ParseForm()
	w.Header().Set("Content-Type", "application/json")
	if u, p, _ := r.BasicAuth(); u != "cid" || p != "csecret" {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "password":
		if r.PostForm.Get("username") != "ada" || r.PostForm.Get("password") != "pw-ada" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
	case "refresh_token":
		f.refreshes++
		if r.PostForm.Get("refresh_token") != f.valid {
			f.reused = true
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"refresh token reused"}`))
			return
		}
		if f.refuse != "" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = fmt.Fprintf(w, `{"error":%q}`, f.refuse)
			return
		}
	default:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"unsupported_grant_type"}`))
		return
	}
	f.n++
	f.valid = fmt.Sprintf("rt-secret-%d", f.n)
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("at-secret-%d", f.n), "refresh_token": f.valid,
		"token_type": "Bearer", "expires_in": f.ttl})
}

func (f *fakeProvider) state() (refreshes int, reused bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.refreshes, f.reused
}

// TestHTTPCredentialsRefreshBeforeExpiry: a password credential whose
// provider issues 4 s tokens with rotating refresh tokens is refreshed
// by the refresher before expiry (at half the life, as the default lead
// is longer), each rotated refresh token replacing the old one (the
// provider never sees one reused), and invalid_grant makes it revoked.
func TestHTTPCredentialsRefreshBeforeExpiry(t *testing.T) {
	f := &fakeProvider{ttl: 4}
	up := httptest.NewServer(f)
	defer up.Close()
	s := servertest.New(t)
	admin := s.Token()
	var c credential
	want(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": "pw", "provider": "custom", "grant_type": "password",
		"client_id": "cid", "client_secret": "csecret", "username": "ada", "password": "pw-ada", "token_url": up.URL + "/token"}), http.StatusCreated).JSON(t, &c)
	if c.Status != "active" || c.ExpiresAt == nil {
		t.Fatalf("created %+v", c)
	}
	one := "/v1/credentials/" + c.ID
	deadline := time.Now().Add(15 * time.Second)
	for {
		if n, _ := f.state(); n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not refreshed twice within 15 s")
		}
		time.Sleep(50 * time.Millisecond) // poll the provider's counter
	}
	var h credHealth
	want(t, s.Do(http.MethodGet, one+"/health", admin, nil), http.StatusOK).JSON(t, &h)
	if _, reused := f.state(); reused || h.Status == "expired" || h.Status == "failed" {
		t.Fatalf("health %+v, reused %v", h, reused)
	}
	// An alert receiver subscribed to credential.revoked.
	var recvMu sync.Mutex
	var received []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		recvMu.Lock()
		received = append(received, string(b))
		recvMu.Unlock()
	}))
	defer recv.Close()
	want(t, s.Do(http.MethodPost, "/v1/webhooks", admin, map[string]any{"url": recv.URL, "events": []string{"credential.revoked", "credential.refresh_failed"}}), http.StatusCreated)
	// The provider revokes the grant: invalid_grant → revoked.
	f.mu.Lock()
	f.refuse = "invalid_grant"
	f.mu.Unlock()
	deadline = time.Now().Add(15 * time.Second)
	for {
		want(t, s.Do(http.MethodGet, one+"/health", admin, nil), http.StatusOK).JSON(t, &h)
		if h.Status == "revoked" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not revoked within 15 s: %+v", h)
		}
		time.Sleep(50 * time.Millisecond) // poll the health
	}
	if h.LastError == nil || !strings.Contains(*h.LastError, "invalid_grant") || h.NextRefreshAt != nil {
		t.Fatalf("revoked health %+v", h)
	}
	feed := want(t, s.Do(http.MethodGet, "/v1/platform/events?limit=500", admin, nil), http.StatusOK)
	if strings.Contains(string(feed.Body), "secret-") || !strings.Contains(string(feed.Body), "credential.revoked") {
		t.Fatalf("feed: %.2000s", feed.Body)
	}
	// The alert is delivered, naming the credential, without a secret.
	deadline = time.Now().Add(30 * time.Second)
	for {
		recvMu.Lock()
		got := strings.Join(received, "\n")
		recvMu.Unlock()
		if strings.Contains(got, `"credential.revoked"`) {
			if !strings.Contains(got, c.ID) || strings.Contains(got, "secret-") || !strings.Contains(got, "invalid_grant") {
				t.Fatalf("alert %s", got)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no credential.revoked delivered within 30 s: %s", got)
		}
		time.Sleep(20 * time.Millisecond) // poll the receiver
	}
}

func problemFields(p problem) string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return strings.Join(out, ",")
}

// TestHTTPCredentialsEncryptedSecret: the tenant's HPKE key (made on
// first use, the same on the next read, the hybrid ML-KEM-768 + X25519
// KEM by default) seals a client secret that the create opens in memory
// and uses at the provider; a value it cannot open, or both fields, is
// 400 and changes nothing.
func TestHTTPCredentialsEncryptedSecret(t *testing.T) {
	f := &fakeProvider{ttl: 3600}
	up := httptest.NewServer(f)
	defer up.Close()
	s := servertest.New(t)
	admin := s.Token()
	var key, again vault.EncryptionKey
	want(t, s.Do(http.MethodGet, "/v1/credentials/encryption-key", admin, nil), http.StatusOK).JSON(t, &key)
	want(t, s.Do(http.MethodGet, "/v1/credentials/encryption-key", admin, nil), http.StatusOK).JSON(t, &again)
	if key.KID == "" || key.KEM != 0x647a || key.KDF != 1 || key.AEAD != 2 || key.PublicKey == "" || key.Info == "" || again != key {
		t.Fatalf("key %+v, again %+v", key, again)
	}
	wantProblem(t, s.Do(http.MethodGet, "/v1/credentials/encryption-key", s.Token("credentials:read"), nil), http.StatusForbidden, "insufficient_scope")
	sealed, err := vault.SealSecret(key, []byte("csecret"))
	if err != nil {
		t.Fatal(err)
	}
	body := func(extra map[string]any) map[string]any {
		b := map[string]any{"name": "enc", "provider": "custom", "grant_type": "password", "client_id": "cid",
			"username": "ada", "password": "pw-ada", "token_url": up.URL + "/token"}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	other, err := vault.SealSecret(key, []byte("csecret"))
	if err != nil || other == sealed {
		t.Fatalf("two seals of one secret: equal %v, %v", other == sealed, err)
	}
	tampered := []byte(sealed)
	tampered[len(tampered)-3] ^= 1
	p := wantProblem(t, s.Do(http.MethodPost, "/v1/credentials", admin, body(map[string]any{"encrypted_client_secret": string(tampered)})), http.StatusBadRequest, "validation_error")
	if problemFields(p) != "encrypted_client_secret" {
		t.Fatalf("fields %s", problemFields(p))
	}
	wantProblem(t, s.Do(http.MethodPost, "/v1/credentials", admin, body(map[string]any{"encrypted_client_secret": sealed, "client_secret": "csecret"})), http.StatusBadRequest, "validation_error")
	var c credential
	want(t, s.Do(http.MethodPost, "/v1/credentials", admin, body(map[string]any{"encrypted_client_secret": sealed})), http.StatusCreated).JSON(t, &c)
	if c.Status != "active" || c.ExpiresAt == nil {
		t.Fatalf("created %+v", c)
	}
	feed := want(t, s.Do(http.MethodGet, "/v1/platform/events?limit=500", admin, nil), http.StatusOK)
	if strings.Contains(string(feed.Body), "csecret") || strings.Contains(string(feed.Body), sealed) || !strings.Contains(string(feed.Body), "vault_key.created") {
		t.Fatalf("feed %.1500s", feed.Body)
	}
}

// TestHTTPCredentialsQuota: with GATEHOUSE_CREDENTIALS_PER_TENANT=2 the
// third credential of a tenant is 403 quota_exceeded; a deletion frees a
// slot.
func TestHTTPCredentialsQuota(t *testing.T) {
	s := servertest.New(t, servertest.Env("CREDENTIALS_PER_TENANT", "2"))
	admin := s.Token()
	create := func(name string) servertest.Response {
		return s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": name, "provider": "github", "client_id": "cid", "client_secret": "cs"})
	}
	var c credential
	want(t, create("one"), http.StatusCreated).JSON(t, &c)
	if c.Status != "pending_authorization" || c.GrantType != "authorization_code" || c.TokenURL != "https://github.com/login/oauth/access_token" || len(c.Scopes) == 0 {
		t.Fatalf("preset credential %+v", c)
	}
	want(t, create("two"), http.StatusCreated)
	wantProblem(t, create("three"), http.StatusForbidden, "quota_exceeded")
	want(t, s.Do(http.MethodDelete, "/v1/credentials/"+c.ID, admin, nil), http.StatusNoContent)
	want(t, create("three"), http.StatusCreated)
}

// TestHTTPCredentialsSingleFlight: while one refresh of a credential is
// at the provider (its claim in the log), every other refresh of it is
// refused (409) without calling the provider: one refresh at a time,
// whoever asks (the same claim keeps two instances apart).
func TestHTTPCredentialsSingleFlight(t *testing.T) {
	f := &fakeProvider{ttl: 3600}
	arrived, release := make(chan struct{}, 16), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.PostForm.Get("grant_type") == "refresh_token" {
			arrived <- struct{}{}
			<-release
		}
		f.ServeHTTP(w, r)
	}))
	defer up.Close()
	s := servertest.New(t)
	admin := s.Token()
	var c credential
	want(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": "pw", "provider": "custom", "grant_type": "password",
		"client_id": "cid", "client_secret": "csecret", "username": "ada", "password": "pw-ada", "token_url": up.URL + "/token"}), http.StatusCreated).JSON(t, &c)
	one := "/v1/credentials/" + c.ID
	first := make(chan servertest.Response, 1)
	go func() { first <- s.Do(http.MethodPost, one+"/refresh", admin, nil) }()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the first refresh never reached the provider")
	}
	for range 4 {
		wantProblem(t, s.Do(http.MethodPost, one+"/refresh", admin, nil), http.StatusConflict, "conflict")
	}
	close(release)
	want(t, <-first, http.StatusOK)
	if n, reused := f.state(); n != 1 || reused {
		t.Fatalf("the provider saw %d refreshes (reused %v), want 1", n, reused)
	}
	var vers credVersions
	want(t, s.Do(http.MethodGet, one+"/versions", admin, nil), http.StatusOK).JSON(t, &vers)
	if len(vers.Items) != 2 {
		t.Fatalf("versions %+v", vers)
	}
}
