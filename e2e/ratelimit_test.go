package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// from is an HTTP client whose connections leave from the loopback
// address ip (127.0.0.0/8 is all loopback on Linux): another source
// address for the server's abuse limits.
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 30 * time.Second}
}

// mint asks for a client_credentials token with golang.org/x/oauth2 from
// hc; it returns the status of a refusal (200 on success) and the
// refusal's error code and Retry-After.
func mint(t *testing.T, hc *http.Client, s *server, id, secret string) (status int, code, retryAfter string) {
	t.Helper()
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: s.URL + "/v1/oauth/token", AuthStyle: oauth2.AuthStyleInHeader}
	_, err := cc.Token(context.WithValue(ctx(t), oauth2.HTTPClient, hc))
	if err == nil {
		return http.StatusOK, "", ""
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("mint: %v", err)
	}
	return re.Response.StatusCode, re.ErrorCode, re.Response.Header.Get("Retry-After")
}

// Issue 12 point 3: wrong secrets back off that client_id from that
// address with 429 slow_down and Retry-After, logged once by client id
// (never the secret), counted on /metrics; the owner elsewhere is not
// affected, and at the same address waits at most Retry-After. A bad
// bearer token spends the address's budget of the platform API; an
// authenticated client past its request budget gets 429.
func TestRateLimits(t *testing.T) {
	s := startServer(t, withEnv("RATE_FAILURES", "5"), withEnv("RATE_WINDOW", "5s"),
		withEnv("RATE_ADDRESS_FAILURES", "8"), withEnv("RATE_CLIENT", "5"))
	attacker, owner := from("127.0.0.1"), from("127.0.0.2")
	const wrong = "wrong-secret-0123456789-abcdefghijklmnop"
	for i := range 5 {
		if st, code, _ := mint(t, attacker, s, adminID, wrong); st != http.StatusUnauthorized || code != "invalid_client" {
			t.Fatalf("wrong secret %d: %d %s, want 401 invalid_client", i+1, st, code)
		}
	}
	st, code, ra := mint(t, attacker, s, adminID, wrong)
	if n, err := strconv.Atoi(ra); st != http.StatusTooManyRequests || code != "slow_down" || err != nil || n < 1 || n > 5 {
		t.Fatalf("6th wrong secret: %d %s Retry-After %q, want 429 slow_down with Retry-After ≤ 5", st, code, ra)
	}
	if st, _, _ := mint(t, owner, s, adminID, adminSecret); st != http.StatusOK {
		t.Fatalf("the owner at another address: %d, want a token", st)
	}
	waitOwnerSameAddress(t, attacker, s)
	checkRateLog(t, s, wrong)
	checkPlatformAddressBudget(t, s)
	checkClientBudget(t, s, owner)
	checkRateMetrics(t, s)
}

// waitOwnerSameAddress: the owner's valid secret from the attacker's
// address works again within the window.
func waitOwnerSameAddress(t *testing.T, hc *http.Client, s *server) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // the window is 5s
	for {
		st, _, ra := mint(t, hc, s, adminID, adminSecret)
		if st == http.StatusOK {
			return
		}
		if st != http.StatusTooManyRequests || time.Now().After(deadline) {
			t.Fatalf("the owner at the attacker's address: %d (Retry-After %q), want a token within the window", st, ra)
		}
		time.Sleep(200 * time.Millisecond) // poll interval, well under Retry-After
	}
}

func checkRateLog(t *testing.T, s *server, wrong string) {
	t.Helper()
	logs := s.proc.stderr.String()
	if strings.Contains(logs, wrong) {
		t.Fatal("the server logged a presented secret")
	}
	for line := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(line, `"level":"WARN"`) && strings.Contains(line, `"client_id":"`+adminID+`"`) && strings.Contains(line, "backing off") {
			return
		}
	}
	t.Fatalf("no warning naming the client id in the log:\n%s", tail(logs, 4<<10))
}

// checkPlatformAddressBudget: 8 bad bearer tokens from one address, then
// 429 rate_limited with Retry-After.
func checkPlatformAddressBudget(t *testing.T, s *server) {
	t.Helper()
	hc := from("127.0.0.3")
	var last *http.Response
	for i := range 9 {
		req, _ := http.NewRequestWithContext(ctx(t), http.MethodGet, s.URL+"/v1/platform/apps", nil)
		req.Header.Set("Authorization", "Bearer not-a-token")
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if i < 8 && res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bad bearer %d: %d %s, want 401", i+1, res.StatusCode, body)
		}
		if i == 8 && (res.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), `"code":"rate_limited"`)) {
			t.Fatalf("9th bad bearer: %d %s, want 429 rate_limited", res.StatusCode, body)
		}
		last = res
	}
	if last.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}

// checkClientBudget: minting in parallel past 5 a second meets 429
// slow_down.
func checkClientBudget(t *testing.T, s *server, hc *http.Client) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var mu sync.Mutex
		seen := map[int]bool{}
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				st, code, ra := mint(t, hc, s, adminID, adminSecret)
				if st == http.StatusTooManyRequests && (code != "slow_down" || ra == "") {
					t.Errorf("429 %s Retry-After %q, want slow_down with Retry-After", code, ra)
				}
				mu.Lock()
				seen[st] = true
				mu.Unlock()
			})
		}
		wg.Wait()
		if seen[http.StatusTooManyRequests] {
			return
		}
	}
	t.Fatal("32 parallel mints never met the budget of 5 a second")
}

func checkRateMetrics(t *testing.T, s *server) {
	t.Helper()
	res, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	for _, want := range []string{`gatehouse_rate_limit{setting="failures"} 5`, `gatehouse_rate_limit{setting="client"} 5`,
		`gatehouse_rate_limited_total{limit="client_address_failures"}`, `gatehouse_rate_limited_total{limit="address_failures"}`,
		`gatehouse_rate_limited_total{limit="client"}`, `gatehouse_auth_failures_total{endpoint="token"} 5`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
