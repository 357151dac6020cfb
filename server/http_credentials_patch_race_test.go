package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// secretProvider is a token endpoint that answers any client secret and
// remembers the last one; a request with the secret held is kept until
// release (arrived says it is there).
type secretProvider struct {
	srv     *httptest.Server
	mu      sync.Mutex
	last    string
	n       int
	held    string
	arrived chan struct{}
	release chan struct{}
}

func newSecretProvider(t *testing.T, held string) *secretProvider {
	p := &secretProvider{held: held, arrived: make(chan struct{}, 1), release: make(chan struct{})}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret := r.FormValue("client_secret")
		if _, s, ok := r.BasicAuth(); ok {
			secret = s
		}
		if secret == p.held {
			p.arrived <- struct{}{}
			select {
			case <-p.release:
			case <-time.After(30 * time.Second):
			}
		}
		p.mu.Lock()
		p.last, p.n = secret, p.n+1
		n := p.n
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":3600}`, n)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *secretProvider) lastSecret() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// TestHTTPCredentialsPatchRace: two PATCHes of a client_credentials
// credential's secret at once, each fetching a token set with its own
// settings. PATCH A fetched first but its provider answers late; PATCH B
// fetches, appends its change and its token set meanwhile. A then finds
// the provider settings changed since it read them: 409, nothing
// appended (its token set, of settings that are gone, is not stored).
// The credential holds B's secret and B's token set, the next refresh
// sends B's secret. Both for a credential whose token sets are still on
// the control stream and for one already refreshed (its token sets in
// its refresh state, stored after the change).
func TestHTTPCredentialsPatchRace(t *testing.T) {
	for _, refreshed := range []bool{false, true} {
		t.Run(fmt.Sprintf("refreshed=%v", refreshed), func(t *testing.T) {
			prov := newSecretProvider(t, "secret-a")
			s := servertest.New(t)
			admin := s.Token()
			var c credential
			want(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": "raced", "provider": "custom", "grant_type": "client_credentials",
				"client_id": "cid", "client_secret": "secret-0", "token_url": prov.srv.URL + "/token", "scopes": []string{}}), http.StatusCreated).JSON(t, &c)
			one := "/v1/credentials/" + c.ID
			if refreshed {
				want(t, s.Do(http.MethodPost, one+"/refresh", admin, nil), http.StatusOK)
			}
			var before credVersions
			want(t, s.Do(http.MethodGet, one+"/versions", admin, nil), http.StatusOK).JSON(t, &before)

			a := make(chan servertest.Response, 1)
			go func() { a <- s.Do(http.MethodPatch, one, admin, map[string]any{"client_secret": "secret-a"}) }()
			select {
			case <-prov.arrived:
			case <-time.After(30 * time.Second):
				t.Fatal("PATCH A never reached the provider")
			}
			want(t, s.Do(http.MethodPatch, one, admin, map[string]any{"client_secret": "secret-b"}), http.StatusOK)
			close(prov.release)
			select {
			case r := <-a:
				wantProblem(t, r, http.StatusConflict, "conflict")
			case <-time.After(30 * time.Second):
				t.Fatal("PATCH A never answered")
			}

			var vers credVersions
			want(t, s.Do(http.MethodGet, one+"/versions", admin, nil), http.StatusOK).JSON(t, &vers)
			if len(vers.Items) != len(before.Items)+1 || vers.Items[0].Reason != "updated" || !vers.Items[0].Current {
				t.Fatalf("versions before %+v, after the two PATCHes %+v: want one more, B's, current", before.Items, vers.Items)
			}
			want(t, s.Do(http.MethodPost, one+"/refresh", admin, nil), http.StatusOK)
			if got := prov.lastSecret(); got != "secret-b" {
				t.Fatalf("the refresh after the race sent secret %q, want B's", got)
			}
		})
	}
}
