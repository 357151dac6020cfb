package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// provider is an OAuth 2.0 token endpoint of the test's own, for what a
// second Gatehouse cannot show: it counts and timestamps every token
// request per client_id, and it rotates refresh tokens with reuse
// detection (RFC 9700 §4.14.2): a refresh with the live refresh token of
// a grant answers a new pair and kills the old token; a refresh with a
// dead one is reuse, answered invalid_grant, and kills the grant.
// Every token it issues is random and in the leak watch.
type provider struct {
	srv       *httptest.Server
	expiresIn int
	// answered, when set, receives the client_id after each refresh answer
	// is written.
	answered chan string

	mu       sync.Mutex
	requests map[string][]time.Time // by client_id
	live     map[string]string      // client_id → the live refresh token
	dead     map[string]bool
	reuses   int
}

func newProvider(t *testing.T, expiresIn int) *provider {
	p := &provider{expiresIn: expiresIn, requests: map[string][]time.Time{}, live: map[string]string{}, dead: map[string]bool{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.token))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *provider) tokenURL() string { return p.srv.URL + "/token" }

func randomToken(prefix string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	s := prefix + base64.RawURLEncoding.EncodeToString(b)
	leaks.add(s)
	return s
}

func (p *provider) token(w http.ResponseWriter, r *http.Request) {
	client, _, ok := r.BasicAuth()
	if err := r.ParseForm(); err != nil || !ok {
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	p.mu.Lock()
	p.requests[client] = append(p.requests[client], time.Now())
	grant := r.PostForm.Get("grant_type")
	answer := map[string]any{"access_token": randomToken("at_"), "token_type": "Bearer", "expires_in": p.expiresIn}
	switch grant {
	case "client_credentials":
	case "password":
		p.live[client] = randomToken("rt_")
		answer["refresh_token"] = p.live[client]
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		if rt == "" || rt != p.live[client] {
			if p.dead[rt] {
				p.reuses++
				p.dead[p.live[client]], p.live[client] = true, ""
			}
			p.mu.Unlock()
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant","error_description":"refresh token reused or revoked"}`))
			return
		}
		p.dead[rt] = true
		p.live[client] = randomToken("rt_")
		answer["refresh_token"] = p.live[client]
	default:
		p.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"unsupported_grant_type"}`))
		return
	}
	p.mu.Unlock()
	_ = json.NewEncoder(w).Encode(answer)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if grant == "refresh_token" && p.answered != nil {
		p.answered <- client
	}
}

// times returns the times of client's token requests.
func (p *provider) times(client string) []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.requests[client]...)
}

func (p *provider) reused() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reuses
}
