package loadgen

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/quietport"
	"github.com/gatehouse/gatehouse/server/servertest"
)

// TestBenchProxy runs both proxy scenarios against a real server
// (servertest, which allows loopback upstreams): every step through the
// proxy reaches the upstream with the provider token (the API endpoint
// refuses any other, and a refusal fails the run) and answers the
// expected body; the baseline ran first against the same endpoint.
func TestBenchProxy(t *testing.T) {
	s := servertest.New(t)
	for sc, path := range map[string]string{"proxy": upstreamAPIPath, "proxy-noop": upstreamNoopPath} {
		res := runBenchJSON(t, "--url", s.URL, "--scenario", sc, "--requests", "20", "--warmup", "0", "--concurrency", "2",
			"--client-id", s.AdminID, "--client-secret", s.AdminSecret)
		if res.Requests != 20 || res.OK != 20 || res.Errors != 0 {
			t.Errorf("%s: %d requests, %d ok, errors %v; want 20 ok", sc, res.Requests, res.OK, res.ErrorsByKind)
		}
		if b := res.Baseline; b == nil || b.Upstream != path || b.OKRPS <= 0 || b.Errors != 0 {
			t.Errorf("%s: baseline %+v", sc, b)
		}
	}
}

// TestBenchProxyReference: --reference loads another proxy in front of
// the upstream at --upstream-addr after the baseline, with the same load,
// and reports its figures against the same baseline; here the reference
// is httputil's reverse proxy, which counts what it forwards.
func TestBenchProxyReference(t *testing.T) {
	s := servertest.New(t)
	addr, ref, forwarded := countingReference(t)
	res := runBenchJSON(t, "--url", s.URL, "--scenario", "proxy", "--requests", "20", "--warmup", "0", "--concurrency", "2",
		"--client-id", s.AdminID, "--client-secret", s.AdminSecret, "--upstream-addr", addr, "--reference", ref.URL+"/")
	b := res.Baseline
	if b == nil || b.Reference == nil {
		t.Fatalf("baseline %+v: no reference run", b)
	}
	r := b.Reference
	if r.URL != ref.URL+upstreamAPIPath || r.OKRPS <= 0 || r.Errors != 0 || r.Ratio <= 0 {
		t.Errorf("reference %+v; want %s, 20 ok answers", r, ref.URL+upstreamAPIPath)
	}
	if n := forwarded.Load(); n != 20 {
		t.Errorf("the reference forwarded %d requests; want 20", n)
	}
	if res.OK != 20 || res.Errors != 0 {
		t.Errorf("through the proxy: %d ok, errors %v", res.OK, res.ErrorsByKind)
	}
}

// countingReference is a reference proxy for --reference: httputil's
// reverse proxy to addr, a free loopback address where bench is to serve
// its upstream (--upstream-addr), counting what it forwards.
func countingReference(t *testing.T) (addr string, ref *httptest.Server, forwarded *atomic.Int64) {
	t.Helper()
	ln, err := quietport.Listen()
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	_ = ln.Close() // bench listens there; the reference needs the address first
	forwarded = new(atomic.Int64)
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: addr})
	ref = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forwarded.Add(1)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(ref.Close)
	return addr, ref, forwarded
}

// TestServeUpstream: the upstream scripts/proxy-ceiling.sh serves answers
// the API's body to the expected Authorization header only, and counts
// what it refused.
func TestServeUpstream(t *testing.T) {
	ln, err := quietport.Listen()
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	ctx, cancel := context.WithCancel(t.Context())
	type result struct {
		refused int64
		err     error
	}
	done := make(chan result, 1)
	go func() {
		n, err := ServeUpstream(ctx, addr, "Bearer provider")
		done <- result{n, err}
	}()
	get := func(auth string) (int, []byte, error) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+upstreamAPIPath, nil)
		req.Header.Set("Authorization", auth)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res.StatusCode, b, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body, err := get("Bearer provider")
		if err == nil {
			if code != http.StatusOK || !bytes.Equal(body, upstreamAnswer) {
				t.Fatalf("with the provider token: %d %q", code, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the upstream never answered: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // polling for the listener, bounded by the deadline
	}
	if code, _, err := get("Bearer other"); err != nil || code != http.StatusUnauthorized {
		t.Fatalf("with another token: %d, %v", code, err)
	}
	cancel()
	if r := <-done; r.err != nil || r.refused != 1 {
		t.Fatalf("ServeUpstream: refused %d, %v; want 1, nil", r.refused, r.err)
	}
}

// TestBenchProxyRounds: --rounds 3 loads the upstream directly, the
// reference proxy and the credential proxy in turn three times, with
// --requests shared out among the rounds, and sums each one's rounds:
// every request the reference forwarded is in its figure, each round's
// own throughputs and ratios are reported.
func TestBenchProxyRounds(t *testing.T) {
	s := servertest.New(t)
	addr, ref, forwarded := countingReference(t)
	res := runBenchJSON(t, "--url", s.URL, "--scenario", "proxy", "--requests", "31", "--rounds", "3", "--warmup", "0",
		"--concurrency", "2", "--client-id", s.AdminID, "--client-secret", s.AdminSecret,
		"--upstream-addr", addr, "--reference", ref.URL+"/")
	if res.OK != 31 || res.Errors != 0 {
		t.Errorf("through the proxy: %d ok, errors %v; want 31 ok over the rounds", res.OK, res.ErrorsByKind)
	}
	if n := forwarded.Load(); n != 31 {
		t.Errorf("the reference forwarded %d requests; want 31 over the rounds", n)
	}
	b := res.Baseline
	if b == nil || b.Reference == nil || b.OKRPS <= 0 || b.Reference.OKRPS <= 0 || b.Ratio <= 0 {
		t.Fatalf("baseline %+v", b)
	}
	if len(b.Rounds) != 3 {
		t.Fatalf("%d rounds reported; want 3: %+v", len(b.Rounds), b.Rounds)
	}
	for i, r := range b.Rounds {
		if r.DirectOKRPS <= 0 || r.ReferenceOKRPS <= 0 || r.OKRPS <= 0 || r.Ratio <= 0 || r.ReferenceRatio <= 0 {
			t.Errorf("round %d: %+v; want every figure measured", i, r)
		}
	}
}

// TestBenchRoundShares: --requests and --duration are shared out among
// the rounds, and only the first round warms up for the whole --warmup.
func TestBenchRoundShares(t *testing.T) {
	cfg := benchConfig{Requests: 10, Warmup: time.Second}
	var sum int
	for i := range 3 {
		r := cfg.round(i, 3)
		sum += r.Requests
		if want := map[bool]time.Duration{true: time.Second, false: 200 * time.Millisecond}[i == 0]; r.Warmup != want {
			t.Errorf("round %d warms up %v; want %v", i, r.Warmup, want)
		}
	}
	if sum != 10 {
		t.Errorf("the rounds' requests add up to %d; want 10", sum)
	}
	if d := (benchConfig{Duration: 9 * time.Second}).round(1, 3).Duration; d != 3*time.Second {
		t.Errorf("a round of 9s in 3 lasts %v; want 3s", d)
	}
	if c := (benchConfig{Requests: 7, Warmup: time.Second}).round(0, 1); c.Requests != 7 || c.Warmup != time.Second {
		t.Errorf("one round: %+v; want the whole run", c)
	}
}
