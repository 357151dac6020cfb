package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

func TestTargetURL(t *testing.T) {
	cases := []struct {
		base, req, want string
		bad             bool
	}{
		{"https://api.example.com", "/v1/proxy/c/users/me?x=1", "https://api.example.com/users/me?x=1", false},
		{"https://api.example.com/v2/", "/v1/proxy/c/a%20b/c", "https://api.example.com/v2/a%20b/c", false},
		{"https://api.example.com/v2", "/v1/proxy/c/", "https://api.example.com/v2/", false},
		{"https://api.example.com/v2", "/v1/proxy/c/../admin", "", true},
		{"https://api.example.com/v2", "/v1/proxy/c/a/%2e%2e/admin", "", true},
		{"https://api.example.com/v2", "/v1/proxy/c/a%2Fb", "", true},
		{"https://api.example.com/v2", "/v1/proxy/c/./x", "", true},
	}
	for _, c := range cases {
		req := httptest.NewRequest(http.MethodGet, c.req, nil)
		u, err := targetURL(c.base, req.URL.EscapedPath(), req.URL.RawQuery)
		if c.bad {
			if err == nil {
				t.Errorf("%s: %s accepted", c.req, u)
			}
			continue
		}
		if err != nil || u.String() != c.want {
			t.Errorf("%s on %s = %v %v, want %s", c.req, c.base, u, err, c.want)
		}
	}
}

func TestInject(t *testing.T) {
	h := http.Header{}
	inject(h, "", "tok")
	if h.Get("Authorization") != "Bearer tok" {
		t.Fatalf("default: %v", h)
	}
	h = http.Header{}
	inject(h, "X-Api-Key: key {token}", "tok")
	if h.Get("X-Api-Key") != "key tok" || h.Get("Authorization") != "" {
		t.Fatalf("template: %v", h)
	}
}

// TestUsagePerMinute: uses are counted per credential, app and minute in
// memory, and written once a minute ends, one credential.used per
// (credential, app, minute), never one per request; Close writes the
// rest.
func TestUsagePerMinute(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 6, 3, 0, 10, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var got []events.Event
	commit := func(_ context.Context, e events.Event) (uint64, error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, e)
		return uint64(len(got)), nil
	}
	u := NewUsage(nil, commit, "inst_1", clock, nil)
	for range 500 {
		cl := &call{}
		cl.in.Store(10)
		cl.out.Store(20)
		u.count("t1", "cred_a", "app_1", 200, cl)
	}
	u.count("t1", "cred_a", "app_1", 502, &call{})
	u.failed("t1", "cred_a", "app_2")
	u.refreshed("t1", "cred_a", "app_1")
	u.exchanged("t1", "cred_b", "app_1")
	u.flush(context.Background(), false)
	if len(got) != 0 {
		t.Fatalf("written within the minute: %d", len(got))
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	u.count("t1", "cred_a", "app_1", 200, &call{})
	u.flush(context.Background(), false)
	if len(got) != 3 {
		t.Fatalf("events after the minute = %d, want 3 (cred_a/app_1, cred_a/app_2, cred_b/app_1)", len(got))
	}
	for _, e := range got {
		p, err := events.Decode(e)
		if err != nil {
			t.Fatal(err)
		}
		c := p.(*events.CredentialUsed)
		if e.Aggregate.Type != events.AggCredentialUsage || e.Aggregate.Tenant != "t1" || !c.Minute.Equal(time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)) {
			t.Fatalf("event %+v %+v", e.Aggregate, c)
		}
		switch {
		case c.CredentialID == "cred_a" && c.AppID == "app_1":
			if c.Requests != 501 || c.Upstream5xx != 1 || c.Refreshes != 1 || c.BytesIn != 5000 || c.BytesOut != 10000 {
				t.Fatalf("cred_a/app_1 %+v", c)
			}
		case c.CredentialID == "cred_a" && c.AppID == "app_2":
			if c.Failed != 1 || c.Requests != 0 {
				t.Fatalf("cred_a/app_2 %+v", c)
			}
		case c.CredentialID == "cred_b":
			if c.Exchanges != 1 {
				t.Fatalf("cred_b %+v", c)
			}
		}
	}
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("Close wrote %d, want the current minute's 1", len(got)-3)
	}
}
