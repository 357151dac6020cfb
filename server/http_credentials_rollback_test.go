package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/server/servertest"
)

// rotatingProvider is a token endpoint that rotates refresh tokens with
// reuse detection, as RFC 9700 §4.14.2 (and Gatehouse's own refresh
// grant) asks: the password grant starts a family; a refresh with the
// family's live refresh token answers a new pair and kills the old
// token; a refresh with a dead one is reuse: invalid_grant, and the
// whole family is revoked.
type rotatingProvider struct {
	mu      sync.Mutex
	n       int
	live    string // the family's live refresh token ("" once revoked)
	dead    map[string]bool
	reuses  int
	granted int
}

func (p *rotatingProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.PostForm.Get("grant_type") {
	case "password":
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		if rt == "" || rt != p.live {
			if p.dead[rt] {
				p.reuses++
				p.dead[p.live], p.live = true, "" // reuse kills the family
			}
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"refresh token reused or revoked"}`))
			return
		}
		p.dead[rt] = true
	default:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"unsupported_grant_type"}`))
		return
	}
	p.n++
	p.granted++
	p.live = fmt.Sprintf("rt-%d", p.n)
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("at-%d", p.n), "token_type": "Bearer",
		"expires_in": 3600, "refresh_token": p.live})
}

// TestHTTPRollbackKeepsRotatedRefreshToken: rolling back to a version
// whose refresh token the provider has since rotated away serves that
// version's access token, and the next refresh still uses the newest
// refresh token: the provider sees no reuse and the credential stays
// active (the rule of vault/rollback.go).
func TestHTTPRollbackKeepsRotatedRefreshToken(t *testing.T) {
	prov := &rotatingProvider{dead: map[string]bool{}}
	ts := httptest.NewServer(prov)
	t.Cleanup(ts.Close)
	s := servertest.New(t)
	admin := s.Token()
	var c credential
	want(t, s.Do(http.MethodPost, "/v1/credentials", admin, map[string]any{"name": "rotating", "provider": "custom", "grant_type": "password",
		"client_id": "cid", "client_secret": "csecret", "username": "u", "password": "pw", "token_url": ts.URL + "/token", "scopes": []string{}}), http.StatusCreated).JSON(t, &c)
	one := "/v1/credentials/" + c.ID
	want(t, s.Do(http.MethodPost, one+"/refresh", admin, nil), http.StatusOK) // v2: rt-1 rotated away, rt-2 live
	want(t, s.Do(http.MethodPost, one+"/rollback", admin, map[string]any{"version": 1}), http.StatusOK)
	var vers credVersions
	want(t, s.Do(http.MethodGet, one+"/versions", admin, nil), http.StatusOK).JSON(t, &vers)
	if len(vers.Items) != 2 || !vers.Items[1].Current {
		t.Fatalf("after the rollback %+v", vers)
	}
	// The refresh after the rollback: made with rt-2, not v1's rt-1.
	want(t, s.Do(http.MethodPost, one+"/refresh", admin, nil), http.StatusOK)
	want(t, s.Do(http.MethodPost, one+"/refresh", admin, nil), http.StatusOK)
	var h credHealth
	want(t, s.Do(http.MethodGet, one+"/health", admin, nil), http.StatusOK).JSON(t, &h)
	prov.mu.Lock()
	defer prov.mu.Unlock()
	if prov.reuses != 0 || prov.granted != 4 || h.Status != "active" || h.ConsecutiveFailures != 0 {
		t.Fatalf("reuses %d, grants %d, health %+v", prov.reuses, prov.granted, h)
	}
	want(t, s.Do(http.MethodGet, one+"/versions", admin, nil), http.StatusOK).JSON(t, &vers)
	if len(vers.Items) != 4 || !vers.Items[0].Current || vers.Items[0].Version != 4 {
		t.Fatalf("versions %+v", vers)
	}
}
