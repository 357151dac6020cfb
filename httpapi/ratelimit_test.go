package httpapi_test

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/httpapi"
)

// clock is a settable clock for the limiter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newLimiter(t testing.TB, cfg httpapi.RateLimits) (*httpapi.Limiter, *clock, *bytes.Buffer) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	var logs bytes.Buffer
	cfg.Now = clk.Now
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	return httpapi.NewLimiter(cfg), clk, &logs
}

// Failed authentications back off one client_id from one address only,
// for no longer than the window: the owner elsewhere is not affected.
func TestLimiterBacksOffClientFromAddress(t *testing.T) {
	l, clk, logs := newLimiter(t, httpapi.RateLimits{Failures: 3, AddressFailures: 100, Window: time.Minute})
	for i := range 3 {
		if _, ok := l.Admit("cl_victim", "198.51.100.7"); !ok {
			t.Fatalf("attempt %d refused before the budget was spent", i+1)
		}
		l.Failed("token", "cl_victim", "198.51.100.7")
	}
	wait, ok := l.Admit("cl_victim", "198.51.100.7")
	if ok || wait <= 0 || wait > time.Minute {
		t.Fatalf("after 3 failures: admitted %v, wait %s; want refused within the window", ok, wait)
	}
	if !l.Suspect("198.51.100.7") || l.Suspect("203.0.113.9") {
		t.Fatal("Suspect should name the failing address only")
	}
	if _, ok := l.Admit("cl_victim", "203.0.113.9"); !ok {
		t.Fatal("the owner at another address is refused")
	}
	if _, ok := l.Admit("cl_other", "198.51.100.7"); !ok {
		t.Fatal("another client_id from the address is refused")
	}
	clk.add(wait)
	if _, ok := l.Admit("cl_victim", "198.51.100.7"); !ok {
		t.Fatalf("still refused after Retry-After (%s)", wait)
	}
	line := logs.String()
	if strings.Count(line, `"level":"WARN"`) != 1 || !strings.Contains(line, `"client_id":"cl_victim"`) || !strings.Contains(line, `"address":"198.51.100.7"`) {
		t.Fatalf("want one warning naming the client and address, got:\n%s", line)
	}
}

// Spraying client_ids from one address spends the address's budget.
func TestLimiterBacksOffAddress(t *testing.T) {
	l, _, _ := newLimiter(t, httpapi.RateLimits{Failures: 3, AddressFailures: 5, Window: time.Minute})
	for i := range 5 {
		l.Failed("token", "cl_"+strconv.Itoa(i), "198.51.100.7")
	}
	if _, ok := l.Admit("cl_new", "198.51.100.7"); ok {
		t.Fatal("an address past its failure budget is admitted")
	}
	if _, ok := l.Admit("", "198.51.100.8"); !ok {
		t.Fatal("another address is refused")
	}
}

// An authenticated client has a budget of requests per second, in bursts
// of as many; exempt clients have none.
func TestLimiterClientBudget(t *testing.T) {
	l, clk, _ := newLimiter(t, httpapi.RateLimits{Client: 10, Platform: 2, Exempt: []string{"bench"}})
	for i := range 10 {
		if _, ok := l.Spend(httpapi.BudgetOAuth, "cl_a"); !ok {
			t.Fatalf("request %d refused within the burst", i+1)
		}
	}
	wait, ok := l.Spend(httpapi.BudgetOAuth, "cl_a")
	if ok || wait <= 0 || wait > 100*time.Millisecond {
		t.Fatalf("request 11: admitted %v, wait %s; want refused for about 100ms", ok, wait)
	}
	if _, ok := l.Spend(httpapi.BudgetPlatform, "cl_a"); !ok {
		t.Fatal("the platform budget is not the OAuth endpoints'")
	}
	for range 100 {
		if _, ok := l.Spend(httpapi.BudgetOAuth, "bench"); !ok {
			t.Fatal("an exempt client was limited")
		}
	}
	clk.add(wait)
	if _, ok := l.Spend(httpapi.BudgetOAuth, "cl_a"); !ok {
		t.Fatal("refused after Retry-After")
	}
	var none *httpapi.Limiter
	if _, ok := none.Spend(httpapi.BudgetOAuth, "x"); !ok || none.Suspect("a") {
		t.Fatal("a nil limiter limits")
	}
}

// A flood from ever new addresses keeps the limiter's state bounded.
func TestLimiterStateBounded(t *testing.T) {
	l, _, _ := newLimiter(t, httpapi.RateLimits{Failures: 3, AddressFailures: 5, Window: time.Hour})
	for i := range 200_000 {
		l.Failed("token", "cl_x", "10.0."+strconv.Itoa(i/256)+"."+strconv.Itoa(i%256))
	}
	if n := l.Tracked(); n > 1<<16 {
		t.Fatalf("tracks %d entries after 200,000 addresses, want at most 65536", n)
	}
}

// BenchmarkLimiterHotPath is what a request of a client in good standing
// costs the limiter: the address lookup and the client's budget.
func BenchmarkLimiterHotPath(b *testing.B) {
	l := httpapi.NewLimiter(httpapi.RateLimits{Client: 1e12, Platform: 1e12, Failures: 20, AddressFailures: 100, Window: time.Minute})
	l.Failed("token", "cl_other", "198.51.100.7") // something tracked
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if l.Suspect("127.0.0.1") {
				b.Fatal("suspect")
			}
			if _, ok := l.Spend(httpapi.BudgetOAuth, "admin"); !ok {
				b.Fatal("limited")
			}
		}
	})
}
