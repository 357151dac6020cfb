package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// claimsMetric reads gatehouse_vault_refresh_claims_total of a server.
func claimsMetric(t *testing.T, s *server) int {
	t.Helper()
	m := newAPI(t, s, "").call(http.MethodGet, "/metrics", nil)
	re := regexp.MustCompile(`(?m)^gatehouse_vault_refresh_claims_total (\d+)`)
	g := re.FindStringSubmatch(string(m.Body))
	if g == nil {
		return 0
	}
	n, _ := strconv.Atoi(g[1])
	return n
}

// TestVaultClusterRefreshOnce: two Gatehouse instances on one NATS and
// one PostgreSQL schema hold 12 client_credentials credentials, created
// through both, whose provider (the test's own, counting token requests
// per client_id) issues 20 s tokens, so each is refreshed about every
// 9–10 s. Over three rounds every credential is refreshed by exactly one
// instance each time: its requests at the provider are never closer than
// a few seconds (two instances refreshing one due credential would ask
// within milliseconds), each request's answer is stored as exactly one
// version, and the instances' claims add up to the refreshes made.
func TestVaultClusterRefreshOnce(t *testing.T) {
	t.Parallel()
	prov := newProvider(t, 20)
	c := startCluster(t, 2, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"))
	for _, n := range c.nodes {
		watchUpstreamTokens(n)
	}
	a0 := adminAPI(t, c.nodes[0])
	apis := []*api{a0, c.api(1, a0.token)}
	const n = 12
	ids := make([]string, n)
	for i := range n {
		r := apis[i%2].call(http.MethodPost, "/v1/credentials", map[string]any{"name": fmt.Sprintf("cc-%d", i), "provider": "custom",
			"grant_type": "client_credentials", "client_id": fmt.Sprintf("client-%d", i), "client_secret": "secret-of-client-" + strconv.Itoa(i),
			"token_url": prov.tokenURL(), "scopes": []string{}})
		if r.Status != http.StatusCreated {
			t.Fatalf("create %d: %s", i, r)
		}
		var cv credentialView
		r.decode(t, &cv)
		ids[i] = cv.ID
	}
	// Three refreshes of every credential.
	waitFor(t, 90*time.Second, "three refreshes of every credential", func() bool {
		for i := range n {
			if len(prov.times(fmt.Sprintf("client-%d", i))) < 4 {
				return false
			}
		}
		return true
	})
	// Let refreshes in flight land, then compare with what is stored.
	refreshes := 0
	for i := range n {
		client := fmt.Sprintf("client-%d", i)
		var vers struct {
			Items []credentialVersion `json:"items"`
		}
		var times []time.Time
		waitFor(t, 15*time.Second, "every answer of "+client+" stored", func() bool {
			times = prov.times(client)
			r := apis[i%2].call(http.MethodGet, "/v1/credentials/"+ids[i]+"/versions", nil)
			r.decode(t, &vers)
			return len(vers.Items) > 0 && vers.Items[0].Version == len(times)
		})
		for j := 1; j < len(times); j++ {
			if gap := times[j].Sub(times[j-1]); gap < 5*time.Second {
				t.Errorf("%s: token requests %d and %d only %s apart: refreshed twice", client, j-1, j, gap)
			}
		}
		refreshes += len(times) - 1
	}
	claims := []int{claimsMetric(t, c.nodes[0]), claimsMetric(t, c.nodes[1])}
	t.Logf("%d refreshes; claims per instance %v", refreshes, claims)
	if claims[0]+claims[1] != refreshes {
		t.Errorf("instances claimed %v refreshes (sum %d), the provider answered %d", claims, claims[0]+claims[1], refreshes)
	}
}

// TestVaultKill9AfterRefresh: the server SIGKILLs itself (the crash hook
// of vault/fault.go, GATEHOUSE_VAULT_FAULT) the moment the refresher's
// append of a token set the provider just issued is acknowledged: the
// earliest instant after the provider answered at which a crash can
// avoid losing it. The provider rotates refresh tokens with reuse
// detection. After a restart the stored current version is the one the
// provider issued (its refresh token is the provider's live one: the
// next refresh succeeds, the provider sees no reuse, the credential stays
// active).
func TestVaultKill9AfterRefresh(t *testing.T) {
	t.Parallel()
	prov := newProvider(t, 20)
	prov.answered = make(chan string, 8)
	s := startServer(t, withEnv("WEBHOOK_ALLOW_PRIVATE", "true"), withEnv("VAULT_FAULT", "kill-after-refresh-stored"))
	watchUpstreamTokens(s)
	a := adminAPI(t, s)
	r := a.call(http.MethodPost, "/v1/credentials", map[string]any{"name": "rotating", "provider": "custom", "grant_type": "password",
		"client_id": "kill-client", "client_secret": "kill-client-secret", "username": "someone", "password": "their-password-123",
		"token_url": prov.tokenURL(), "scopes": []string{}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %s", r)
	}
	var c credentialView
	r.decode(t, &c)

	// The refresher's first refresh, about 10 s in: the provider answers,
	// the server stores the answer and dies at once.
	select {
	case <-prov.answered:
	case <-time.After(40 * time.Second):
		t.Fatal("no refresh within 40 s")
	}
	select {
	case <-s.proc.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("the server did not die after storing the refresh")
	}
	if ws, ok := s.proc.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the server ended %v, want killed by SIGKILL", s.proc.cmd.ProcessState)
	}

	// Restart without the hook: the log gives back the issued set.
	env := s.env[:0:0]
	for _, kv := range s.env {
		if !strings.HasPrefix(kv, "GATEHOUSE_VAULT_FAULT=") {
			env = append(env, kv)
		}
	}
	s.env = env
	s.restart(t)
	a = adminAPI(t, s)
	var vers struct {
		Items []credentialVersion `json:"items"`
	}
	a.call(http.MethodGet, "/v1/credentials/"+c.ID+"/versions", nil).decode(t, &vers)
	if len(vers.Items) != 2 || vers.Items[0].Version != 2 || !vers.Items[0].Current || vers.Items[0].Reason != "refreshed" {
		t.Fatalf("after the restart: versions %+v, want version 2 (the refresh the provider answered) current", vers.Items)
	}
	// Its refresh token is the provider's live one: the next refresh (the
	// refresher's, or forced here) succeeds with no reuse.
	if r := a.call(http.MethodPost, "/v1/credentials/"+c.ID+"/refresh", nil); r.Status != http.StatusOK {
		t.Fatalf("refresh after the restart: %s", r)
	}
	var h credentialHealth
	a.call(http.MethodGet, "/v1/credentials/"+c.ID+"/health", nil).decode(t, &h)
	if h.Status != "active" || h.ConsecutiveFailures != 0 || prov.reused() != 0 {
		t.Fatalf("health %+v, reuses at the provider %d", h, prov.reused())
	}
}
