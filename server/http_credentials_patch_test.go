package server_test

import (
	"maps"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestHTTPCredentialsPatchNeedsReauthorization: PATCHing the scopes of an
// authorized authorization_code credential turns it
// pending_authorization with a fresh authorize_url carrying the new
// scopes; its old token set is neither served (no current version),
// refreshed (409) nor rolled back to (409); an authorization started
// before the change is refused at the callback (400 page); the new one
// makes it active with the new scopes. A PATCH that changes nothing the
// provider sees (exchangeable) keeps it active. Bad provider fields are 400.
func TestHTTPCredentialsPatchNeedsReauthorization(t *testing.T) {
	prov := newCodeProvider(t)
	s := servertest.New(t)
	admin := s.Token()
	type withURL struct {
		credential
		AuthorizeURL *string `json:"authorize_url"`
	}
	var c withURL
	want(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": "fake", "provider": "custom",
		"client_id": "fake-client", "client_secret": "fake-secret-value-1234", "auth_url": prov.srv.URL + "/authorize",
		"token_url": prov.srv.URL + "/token", "scopes": []string{"read"}}), http.StatusCreated).JSON(t, &c)
	authorize := func(u string) (int, string) {
		t.Helper()
		res, _ := get(t, u)
		res, page := get(t, res.Header.Get("Location"))
		return res.StatusCode, page
	}
	if code, page := authorize(*c.AuthorizeURL); code != http.StatusOK {
		t.Fatalf("first authorization %d %s", code, page)
	}
	one := "/v1/credentials/" + c.ID
	// An authorization started now, finished after the change.
	var early struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	want(t, s.Do(http.MethodPost, one+"/authorize", admin, nil), http.StatusOK).JSON(t, &early)

	// Not a provider change: stays active, no authorize_url.
	var p withURL
	want(t, s.Do(http.MethodPatch, one, admin, map[string]any{"exchangeable": true}), http.StatusOK).JSON(t, &p)
	if p.Status != "active" || p.AuthorizeURL != nil {
		t.Fatalf("exchangeable patch %+v", p)
	}
	// Bad provider fields.
	pr := wantProblem(t, s.Do(http.MethodPatch, one, admin, map[string]any{"client_id": "", "token_url": "ftp://x", "auth_url": ""}), http.StatusBadRequest, "validation_error")
	if !strings.Contains(problemFields(pr), "client_id") || !strings.Contains(problemFields(pr), "token_url") || !strings.Contains(problemFields(pr), "auth_url") {
		t.Fatalf("refused %+v", pr)
	}
	// The scopes change.
	want(t, s.Do(http.MethodPatch, one, admin, map[string]any{"scopes": []string{"read", "write"}}), http.StatusOK).JSON(t, &p)
	if p.Status != "pending_authorization" || p.AuthorizeURL == nil || p.ExpiresAt != nil {
		t.Fatalf("scopes patch %+v", p)
	}
	au, _ := url.Parse(*p.AuthorizeURL)
	if au.Query().Get("scope") != "read write" {
		t.Fatalf("authorize_url %s", *p.AuthorizeURL)
	}
	var vers credVersions
	want(t, s.Do(http.MethodGet, one+"/versions", admin, nil), http.StatusOK).JSON(t, &vers)
	if len(vers.Items) != 1 || vers.Items[0].Current {
		t.Fatalf("versions after the change %+v", vers)
	}
	wantProblem(t, s.Do(http.MethodPost, one+"/refresh", admin, nil), http.StatusConflict, "conflict")
	wantProblem(t, s.Do(http.MethodPost, one+"/rollback", admin, map[string]any{"version": 1}), http.StatusConflict, "conflict")
	if code, page := authorize(early.AuthorizeURL); code != http.StatusBadRequest || !strings.Contains(page, "changed after this authorization started") {
		t.Fatalf("an authorization of before the change: %d %s", code, page)
	}
	if code, page := authorize(*p.AuthorizeURL); code != http.StatusOK {
		t.Fatalf("reauthorization %d %s", code, page)
	}
	var got credential
	want(t, s.Do(http.MethodGet, one, admin, nil), http.StatusOK).JSON(t, &got)
	if got.Status != "active" || strings.Join(got.Scopes, " ") != "read write" {
		t.Fatalf("after reauthorization %+v", got)
	}
	want(t, s.Do(http.MethodGet, one+"/versions", admin, nil), http.StatusOK).JSON(t, &vers)
	if len(vers.Items) != 2 || !vers.Items[0].Current || vers.Items[0].Version != 2 {
		t.Fatalf("versions after reauthorization %+v", vers)
	}
}

// newCCCredential is a server with a client_credentials credential "cc"
// (the members of extra added to its creation) whose provider is another
// server, where it is the app upstream.
func newCCCredential(t *testing.T, extra map[string]any) (*servertest.Server, app, credential) {
	t.Helper()
	up := servertest.New(t)
	upstream := createApp(t, up, up.Token(), map[string]any{"name": "vault-client"})
	s := servertest.New(t)
	body := map[string]any{"name": "cc", "provider": "custom", "grant_type": "client_credentials",
		"client_id": upstream.ClientID, "client_secret": upstream.ClientSecret, "token_url": up.URL + "/v1/oauth/token", "scopes": []string{}}
	maps.Copy(body, extra)
	var c credential
	want(t, s.Do(http.MethodPost, "/v1/credentials", s.Token(), body), http.StatusCreated).JSON(t, &c)
	return s, upstream, c
}

// TestHTTPCredentialsPatchRefetchesTokens: a client_credentials
// credential whose scopes or client secret change gets a token set from
// the provider at the PATCH (reason "updated"); a secret the provider
// refuses is 502 and changes nothing.
func TestHTTPCredentialsPatchRefetchesTokens(t *testing.T) {
	s, upstream, c := newCCCredential(t, nil)
	admin := s.Token()
	one := "/v1/credentials/" + c.ID
	wantProblem(t, s.Do(http.MethodPatch, one, admin, map[string]any{"client_secret": "not-the-secret"}), http.StatusBadGateway, "upstream_error")
	var after credential
	want(t, s.Do(http.MethodGet, one, admin, nil), http.StatusOK).JSON(t, &after)
	if after.Version != c.Version {
		t.Fatalf("a refused PATCH changed the credential: %+v → %+v", c, after)
	}
	want(t, s.Do(http.MethodPatch, one, admin, map[string]any{"client_secret": upstream.ClientSecret}), http.StatusOK).JSON(t, &after)
	var vers credVersions
	want(t, s.Do(http.MethodGet, one+"/versions", admin, nil), http.StatusOK).JSON(t, &vers)
	if after.Status != "active" || len(vers.Items) != 2 || vers.Items[0].Reason != "updated" || !vers.Items[0].Current {
		t.Fatalf("after the secret's change %+v %+v", after, vers)
	}
	// Once refreshed, its token sets live in its refresh state (the
	// high-volume stream): a change's token set is stored there and is
	// the one served.
	want(t, s.Do(http.MethodPost, one+"/refresh", admin, nil), http.StatusOK)
	want(t, s.Do(http.MethodPatch, one, admin, map[string]any{"client_secret": upstream.ClientSecret}), http.StatusOK).JSON(t, &after)
	want(t, s.Do(http.MethodGet, one+"/versions", admin, nil), http.StatusOK).JSON(t, &vers)
	if after.Status != "active" || len(vers.Items) != 4 || vers.Items[0].Version != 4 || vers.Items[0].Reason != "updated" || !vers.Items[0].Current {
		t.Fatalf("after a change of a refreshed credential %+v %+v", after, vers)
	}
}

// TestHTTPCredentialsPatchLeadAndProvider: a PATCH that changes the
// provider side and refresh_before_seconds at once schedules the token
// set it fetched with the new lead, whether that set is stored with the
// change (a credential never refreshed) or after it (one whose sets are
// in its refresh state). Before, the first computed it with the old one.
func TestHTTPCredentialsPatchLeadAndProvider(t *testing.T) {
	s, upstream, c := newCCCredential(t, map[string]any{"refresh_before_seconds": 60})
	admin := s.Token()
	one := "/v1/credentials/" + c.ID
	check := func(step string, lead time.Duration) {
		t.Helper()
		var h credHealth
		want(t, s.Do(http.MethodGet, one+"/health", admin, nil), http.StatusOK).JSON(t, &h)
		// the lead, plus a jitter of up to a tenth of it, plus under a
		// second (the expiry is in whole seconds)
		if h.ExpiresAt == nil || h.NextRefreshAt == nil {
			t.Fatalf("%s: expires %v, next refresh %v", step, h.ExpiresAt, h.NextRefreshAt)
		}
		if got := h.ExpiresAt.Sub(*h.NextRefreshAt); got < lead || got >= lead+lead/10+time.Second {
			t.Fatalf("%s: refreshed %v before expiry; want %v (and its jitter)", step, got, lead)
		}
	}
	check("created", time.Minute)
	want(t, s.Do(http.MethodPatch, one, admin, map[string]any{"client_secret": upstream.ClientSecret, "refresh_before_seconds": 600}), http.StatusOK)
	check("changed with its token set", 10*time.Minute)
	want(t, s.Do(http.MethodPost, one+"/refresh", admin, nil), http.StatusOK)
	want(t, s.Do(http.MethodPatch, one, admin, map[string]any{"client_secret": upstream.ClientSecret, "refresh_before_seconds": 900}), http.StatusOK)
	check("changed, its token set after", 15*time.Minute)
}
