package loadgen

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/quietport"
)

const (
	benchTestID     = "bench-client"
	benchTestSecret = "s3cret/with:odd&chars+0123456789abcdef"
	benchTestToken  = "eyJ.the.token"
)

// fakeAuthServer answers the endpoints bench loads. Of the token requests,
// every tenth is a 503 and every tenth (offset by five) a 200 without an
// access_token; a request with slow=1 in its scope waits slow first.
type fakeAuthServer struct {
	tokens  atomic.Int64
	revoked atomic.Int64
	slow    time.Duration
}

func (f *fakeAuthServer) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"status":"ok"}`)) })
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"keys": [ {"kty":"EC"} ]}`))
	})
	mux.HandleFunc("POST /v1/oauth/token", func(w http.ResponseWriter, r *http.Request) {
		if !f.authorized(t, r) || r.PostFormValue("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		f.token(w, r)
	})
	mux.HandleFunc("POST /v1/oauth/revoke", func(w http.ResponseWriter, r *http.Request) {
		if !f.authorized(t, r) || r.PostFormValue("token") != benchTestToken {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.revoked.Add(1)
	})
	mux.HandleFunc("POST /v1/oauth/introspect", func(w http.ResponseWriter, r *http.Request) {
		active := f.authorized(t, r) && r.PostFormValue("token") == benchTestToken
		json.NewEncoder(w).Encode(map[string]bool{"active": active})
	})
	return mux
}

func (f *fakeAuthServer) token(w http.ResponseWriter, r *http.Request) {
	n := f.tokens.Add(1)
	if r.PostFormValue("scope") == "slow" && n%10 == 0 {
		time.Sleep(f.slow)
	}
	switch {
	case r.PostFormValue("scope") == "slow":
	case n%10 == 0:
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case n%10 == 5:
		w.Write([]byte(`{"error":"none","access_token":""}`))
		return
	}
	w.Write([]byte(`{"access_token":"` + benchTestToken + `","token_type":"bearer"}`))
}

// authorized checks client_secret_basic with form-encoded credentials.
func (f *fakeAuthServer) authorized(t *testing.T, r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if !ok {
		t.Errorf("%s: no basic auth", r.URL.Path)
		return false
	}
	if strings.Contains(secret, "/") {
		t.Errorf("secret not form-encoded: %q", secret)
	}
	return id == benchTestID && secret == strings.NewReplacer("/", "%2F", ":", "%3A", "&", "%26", "+", "%2B").Replace(benchTestSecret)
}

func startFakeAuth(t *testing.T, slow time.Duration) (*fakeAuthServer, string) {
	t.Helper()
	f := &fakeAuthServer{slow: slow}
	srv := httptest.NewServer(f.handler(t))
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// runBenchJSON runs `gatehouse bench --json --quiet` with args and decodes
// its result.
func runBenchJSON(t *testing.T, args ...string) benchResult {
	t.Helper()
	args = append([]string{"bench", "--json", "--quiet", "--client-id", benchTestID, "--client-secret", benchTestSecret}, args...)
	out, errOut, err := runOut(t, args...)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut)
	}
	var res benchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bench --json printed %q: %v", out, err)
	}
	return res
}

func TestBenchCountsRequestsAndErrors(t *testing.T) {
	for _, transport := range []string{transportRaw, transportNetHTTP} {
		f, url := startFakeAuth(t, 0)
		res := runBenchJSON(t, "--url", url+"/", "--scenario", "mint", "--requests", "200", "--warmup", "0", "--concurrency", "4", "--transport", transport)
		if res.Requests != 200 || res.OK != 160 || res.Errors != 40 {
			t.Errorf("%s: requests %d, ok %d, errors %d; want 200, 160, 40", transport, res.Requests, res.OK, res.Errors)
		}
		want := map[string]int64{"status 503": 20, errBadBody: 20}
		if len(res.ErrorsByKind) != 2 || res.ErrorsByKind["status 503"] != 20 || res.ErrorsByKind[errBadBody] != 20 {
			t.Errorf("%s: errors by kind %v, want %v", transport, res.ErrorsByKind, want)
		}
		if got := f.tokens.Load(); got != 200 {
			t.Errorf("%s: server saw %d token requests, want 200 (no warmup)", transport, got)
		}
		if res.URL != url || res.Concurrency != 4 || res.RPS <= 0 || res.OKRPS >= res.RPS || res.P50ms <= 0 || res.MaxMs < res.P99ms {
			t.Errorf("%s: implausible result %+v", transport, res)
		}
	}
}

func TestBenchWarmupIsLeftOut(t *testing.T) {
	f, url := startFakeAuth(t, 0)
	res := runBenchJSON(t, "--url", url, "--scenario", "mint", "--scope", "slow", "--requests", "50", "--warmup", "200ms", "--concurrency", "2")
	if res.Requests != 50 || res.Errors != 0 {
		t.Errorf("requests %d, errors %d; want 50, 0", res.Requests, res.Errors)
	}
	if sent := f.tokens.Load(); sent <= 50 {
		t.Errorf("server saw %d token requests: no warmup before the 50 measured", sent)
	}
}

func TestBenchPercentiles(t *testing.T) {
	const slow = 30 * time.Millisecond
	_, url := startFakeAuth(t, slow)
	// One request in ten waits slow: p50 is fast, p90 on the edge, p99
	// and max slow.
	res := runBenchJSON(t, "--url", url, "--scope", "slow", "--requests", "200", "--warmup", "0", "--concurrency", "1")
	slowMs := float64(slow.Milliseconds())
	// No upper bound on the slow ones: on a loaded machine a sleep of
	// 30 ms may take far longer. The fast ones answer in well under a
	// millisecond, 30 ms being over 10 times that.
	if res.P50ms >= slowMs || res.P99ms < slowMs || res.MaxMs < res.P99ms {
		t.Errorf("p50 %.3f, p99 %.3f, max %.3f ms; want p50 < %v ≤ p99 ≤ max", res.P50ms, res.P99ms, res.MaxMs, slow)
	}
	t.Logf("p50 %.3f, p99 %.3f, max %.3f ms", res.P50ms, res.P99ms, res.MaxMs)
	if res.MeanMs < slowMs/20 || res.MeanMs > res.P99ms {
		t.Errorf("mean %.3f ms, want about a tenth of %v", res.MeanMs, slow)
	}
}

func TestBenchScenarios(t *testing.T) {
	_, url := startFakeAuth(t, 0)
	for _, sc := range []string{"introspect", "jwks", "healthz"} {
		res := runBenchJSON(t, "--url", url, "--scenario", sc, "--duration", "150ms", "--warmup", "50ms", "--concurrency", "3")
		if res.Requests == 0 || res.Errors != 0 || res.Seconds < 0.15 || res.Seconds > 1 {
			t.Errorf("%s: %d requests, errors %v in %.3fs", sc, res.Requests, res.ErrorsByKind, res.Seconds)
		}
	}
}

// TestBenchRevokeCycles: each counted request of revoke is a token
// request and the revocation of its token; a failed mint is an error of
// the cycle, and no revocation is sent for it.
func TestBenchRevokeCycles(t *testing.T) {
	f, url := startFakeAuth(t, 0)
	res := runBenchJSON(t, "--url", url, "--scenario", "revoke", "--requests", "40", "--warmup", "0", "--concurrency", "4")
	if res.Requests != 40 || res.OK != f.revoked.Load() || res.OK != 32 {
		t.Fatalf("%d cycles, %d ok, %d revocations received; want 40, 32 (every tenth mint is a 503, every tenth a 200 without a token)",
			res.Requests, res.OK, f.revoked.Load())
	}
	if res.ErrorsByKind["status 503"] != 4 || res.ErrorsByKind[errBadBody] != 4 {
		t.Fatalf("errors %v, want 4 status 503 and 4 bad body", res.ErrorsByKind)
	}
}

func TestBenchIntrospectNeedsAToken(t *testing.T) {
	_, url := startFakeAuth(t, 0)
	_, _, err := runOut(t, "bench", "--url", url, "--scenario", "introspect", "--client-id", "wrong", "--client-secret", "x", "--quiet")
	if err == nil || !strings.Contains(err.Error(), "minting the token to introspect: POST /v1/oauth/token: 401") {
		t.Errorf("err = %v", err)
	}
}

func TestBenchTextAndJSONOut(t *testing.T) {
	_, url := startFakeAuth(t, 0)
	file := filepath.Join(t.TempDir(), "res.json")
	out, errOut, err := runOut(t, "bench", "--url", url, "--requests", "20", "--warmup", "0", "--concurrency", "1",
		"--client-id", benchTestID, "--client-secret", benchTestSecret, "--json-out", file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mint: POST " + url + "/v1/oauth/token", "requests    20 (16 ok, 4 errors)",
		"latency     p50 ", "errors      bad body: 2, status 503: 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if errOut != "" { // less than a second: no progress line yet
		t.Errorf("stderr: %q", errOut)
	}
	var res benchResult
	if b, err := os.ReadFile(file); err != nil || json.Unmarshal(b, &res) != nil || res.Requests != 20 {
		t.Errorf("--json-out: %v %+v", err, res)
	}
}

func TestBenchProgressLine(t *testing.T) {
	_, url := startFakeAuth(t, 0)
	dial, err := newConnFunc(transportRaw, nil, target{method: http.MethodGet, url: url + healthzPath, header: http.Header{}}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(dial, nil, benchConfig{Concurrency: 1, Duration: 120 * time.Millisecond, Warmup: 50 * time.Millisecond})
	r.tick = 20 * time.Millisecond
	var progress strings.Builder
	r.run(t.Context(), &progress)
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if len(lines) < 3 || !strings.Contains(lines[0], "req/s        0 errors  (warmup)") || strings.Contains(lines[len(lines)-1], "warmup") {
		t.Errorf("progress:\n%s", progress.String())
	}
}

func TestBenchUnreachable(t *testing.T) {
	ln, err := quietport.Listen()
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	_, _, err = runOut(t, "bench", "--url", url, "--scenario", "healthz", "--quiet")
	var stderr strings.Builder
	if code := exitCode(err, &stderr); code != exitError || !strings.Contains(stderr.String(), "server unreachable at "+url) {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestBenchUsage(t *testing.T) {
	t.Setenv("GATEHOUSE_BOOTSTRAP_CLIENT_ID", "")
	t.Setenv("GATEHOUSE_BOOTSTRAP_CLIENT_SECRET", "")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--scenario", "nope"}, `--scenario "nope" is not one of code, console, deliver, graphql, graphql-rest, healthz, idempotent, introspect, jwks, login, mint, password-hash, proxy, proxy-noop, publish, refresh, revoke`},
		{[]string{"--url", "127.0.0.1:8080"}, "is not an http(s) URL"},
		{[]string{"--concurrency", "0", "--scenario", "jwks"}, "--concurrency 0"},
		{[]string{"--duration", "0", "--scenario", "jwks"}, "--duration must be positive"},
		{[]string{"--scenario", "mint"}, "needs --client-id and --client-secret"},
		{[]string{"extra"}, "bench takes no arguments"},
		{[]string{"--bogus"}, "flag provided but not defined"},
		{[]string{"--transport", "h2", "--scenario", "jwks"}, `--transport "h2" is not raw or net/http`},
		{[]string{"--reference", "https://127.0.0.1:1", "--scenario", "jwks"}, `--reference "https://127.0.0.1:1" is not an http:// URL`},
		{[]string{"--rounds", "0", "--scenario", "jwks"}, "--rounds must be between 1 and 100"},
		{[]string{"--rounds", "4", "--requests", "3", "--scenario", "jwks"}, "not above --requests"},
	}
	for _, tc := range cases {
		_, _, err := runOut(t, append([]string{"bench"}, tc.args...)...)
		var stderr strings.Builder
		if code := exitCode(err, &stderr); code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), exitUsage, tc.want)
		}
	}
	out, _, err := runOut(t, "help", "bench")
	if err != nil || !strings.Contains(out, "Usage: gatehouse bench") || !strings.Contains(out, "--concurrency int (default 32)") {
		t.Errorf("help bench: %v\n%s", err, out)
	}
}

func TestBenchCredentialsFromEnv(t *testing.T) {
	t.Setenv("GATEHOUSE_BOOTSTRAP_CLIENT_ID", "from-env")
	t.Setenv("GATEHOUSE_BOOTSTRAP_CLIENT_SECRET", "env-secret")
	cfg, err := parseBenchFlags(nil, os.LookupEnv)
	if err != nil || cfg.ClientID != "from-env" || cfg.ClientSecret != "env-secret" {
		t.Errorf("%+v, %v", cfg, err)
	}
}

func TestHistogramPercentiles(t *testing.T) {
	var a, b histogram
	for i := 1; i <= 100_000; i++ { // 1µs .. 100ms, half in each
		v := time.Duration(i) * time.Microsecond
		if i%2 == 0 {
			a.record(v)
		} else {
			b.record(v)
		}
	}
	a.merge(&b)
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {90, 90 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}} {
		got := a.percentile(tc.p)
		if diff := float64(got-tc.want) / float64(tc.want); diff < -0.001 || diff > 1.0/histSub {
			t.Errorf("p%v = %v, want %v within 1/%d", tc.p, got, tc.want, histSub)
		}
	}
	if a.n != 100_000 || a.min != time.Microsecond || a.max != 100*time.Millisecond || a.mean() != 50_000_500*time.Nanosecond {
		t.Errorf("n %d, min %v, max %v, mean %v", a.n, a.min, a.max, a.mean())
	}
	var empty histogram
	if empty.percentile(99) != 0 || empty.mean() != 0 {
		t.Error("empty histogram")
	}
}

func TestHistogramSingleValue(t *testing.T) {
	var h histogram
	h.record(1234567 * time.Nanosecond)
	for _, p := range []float64{0, 50, 100} {
		if got := h.percentile(p); got != 1234567*time.Nanosecond {
			t.Errorf("p%v = %v", p, got)
		}
	}
}

func TestHistogramBuckets(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		v := time.Duration(r.Int64N(1 << r.IntN(41)))
		i := bucketOf(v)
		hi := bucketHigh(i)
		if i < 0 || i >= histBuckets || hi < v || float64(hi-v) > float64(v)/histSub {
			t.Fatalf("%d ns: bucket %d up to %d", v, i, hi)
		}
		if i > 0 && bucketHigh(i-1) >= v {
			t.Fatalf("%d ns: bucket %d, yet bucket %d reaches %d", v, i, i-1, bucketHigh(i-1))
		}
	}
	if bucketOf(time.Hour) != histBuckets-1 || bucketOf(-1) != 0 {
		t.Error("out-of-range values")
	}
}

func TestJSONCheck(t *testing.T) {
	token := jsonCheck("access_token", nonEmptyString)
	keys := jsonCheck("keys", nonEmptyArray)
	active := jsonCheck("active", isTrue)
	cases := []struct {
		check func([]byte) bool
		body  string
		want  bool
	}{
		{token, `{"access_token":"abc","token_type":"bearer"}`, true},
		{token, `{ "access_token" : "abc" }`, true},
		{token, `{"access_token":""}`, false},
		{token, `{"access_token":null}`, false},
		{token, `{"error":"invalid_client"}`, false},
		{token, `{"access_token"`, false},
		{keys, `{"keys":[{"kty":"EC"}]}`, true},
		{keys, `{"keys": [ ]}`, false},
		{keys, `{"keys":{}}`, false},
		{active, `{"active":true,"scope":"a"}`, true},
		{active, `{"active":false}`, false},
	}
	for _, tc := range cases {
		if got := tc.check([]byte(tc.body)); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.body, got, tc.want)
		}
	}
}

func TestBenchInterrupted(t *testing.T) {
	_, url := startFakeAuth(t, 0)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel)
	var out, errOut strings.Builder
	err := run(ctx, []string{"bench", "--url", url, "--scenario", "healthz", "--duration", "1m", "--warmup", "100ms", "--quiet"}, &out, &errOut)
	// The measured phase ran from the end of the warmup (100 ms) to the
	// interruption (300 ms): about 0.2 s, more on a loaded machine, never
	// the full minute.
	if err == nil || !regexp.MustCompile(`interrupted: the figures above cover 0\.\d+s`).MatchString(err.Error()) || !strings.Contains(out.String(), "healthz: GET") {
		t.Errorf("err %v, output:\n%s", err, out.String())
	}
}
