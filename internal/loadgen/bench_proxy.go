package loadgen

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// The proxy scenarios measure the credential proxy (issue 16) against
// the same upstream called directly, in one run: bench serves an
// upstream on loopback, makes an app holding credentials:use and an
// exchangeable client_credentials credential whose provider is the
// server itself (its own token endpoint) and whose base_url is that
// upstream, learns the provider token the proxy will inject (one token
// exchange, RFC 8693), then loads the upstream directly with that token
// for the same warmup, duration and concurrency (the baseline), and then
// through GET /v1/proxy/{credential}/… (the measured run). Two upstream
// endpoints, one per scenario:
//
//   - proxy: /api/items is what an API is at the least: it checks the
//     bearer token (a constant-time compare of the whole Authorization
//     header with the provider token it expects, 401 otherwise) and
//     answers a JSON body of about 1 KiB (prepared once: no encoding per
//     request, no work added to flatter the ratio);
//   - proxy-noop: /noop does nothing (200, empty body, no check): the
//     ratio then compares a whole second HTTP exchange with none, the
//     proxy's worst case.
//
// The server must allow private addresses
// (GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true) and should not limit the
// platform API (GATEHOUSE_RATE_PLATFORM=0), or the figure measures the
// limit; the client must be an admin holding platform:apps:write,
// platform:scopes:approve and credentials:write (the bootstrap admin
// does).

// baseline is the direct run's figures; its Ratio and AddedP50ms are
// the proxied run's against them.
type baseline struct {
	// Upstream names the upstream endpoint both runs loaded.
	Upstream string `json:"upstream"`
	figures
	// Reference is the reference proxy's run (--reference), when asked.
	Reference *referenceRun `json:"reference,omitempty"`
	// Rounds are each round's throughputs and ratios (--rounds above 1):
	// how much the ratio moved during the run.
	Rounds []roundFigures `json:"rounds,omitempty"`
}

// roundFigures are one round's good answers a second: directly, through
// the reference proxy (0 without one) and through the credential proxy,
// and the proxies' shares of direct, in percent.
type roundFigures struct {
	DirectOKRPS    float64 `json:"direct_ok_rps"`
	ReferenceOKRPS float64 `json:"reference_ok_rps,omitempty"`
	OKRPS          float64 `json:"ok_rps"`
	Ratio          float64 `json:"ratio_pct"`
	ReferenceRatio float64 `json:"reference_ratio_pct,omitempty"`
}

// set records comparand k's round (0 the upstream directly, 1 the
// reference proxy).
func (f *roundFigures) set(k int, st *workerStats, elapsed time.Duration) {
	if k == 0 {
		f.DirectOKRPS = okRate(st, elapsed)
	} else {
		f.ReferenceOKRPS = okRate(st, elapsed)
	}
}

// compared fills in the round's ratios.
func (f roundFigures) compared() roundFigures {
	if f.DirectOKRPS > 0 {
		f.Ratio = 100 * f.OKRPS / f.DirectOKRPS
		f.ReferenceRatio = 100 * f.ReferenceOKRPS / f.DirectOKRPS
	}
	return f
}

// referenceRun is the same load through another proxy in front of the
// same upstream (--reference): what a proxy that is not Gatehouse gets
// on the same machine, client and upstream, against the same baseline.
// It forwards the client's Authorization, the provider token: it injects
// nothing and checks nothing, which if anything flatters it.
type referenceRun struct {
	URL string `json:"url"`
	figures
}

// figures are a run's throughput and latency, and a comparison of two
// runs: Ratio is one's ok_rps over the other's, in percent, AddedP50ms
// one's p50 less the other's (compared).
type figures struct {
	OKRPS      float64 `json:"ok_rps"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	Errors     int64   `json:"errors"`
	Ratio      float64 `json:"ratio_pct"`
	AddedP50ms float64 `json:"added_p50_ms"`
}

func figuresOf(r benchResult) figures {
	return figures{OKRPS: r.OKRPS, P50ms: r.P50ms, P99ms: r.P99ms, Errors: r.Errors}
}

// compared is run's throughput over direct's, in percent, and the p50 it
// adds to direct's.
func compared(run, direct figures) (ratio, addedP50ms float64) {
	if direct.OKRPS > 0 {
		ratio = 100 * run.OKRPS / direct.OKRPS
	}
	return ratio, run.P50ms - direct.P50ms
}

// Upstream endpoints of the proxy scenarios.
const (
	upstreamAPIPath  = "/api/items"
	upstreamNoopPath = "/noop"
)

// benchUpstream is the upstream API (see above).
type benchUpstream struct {
	srv *http.Server
	url string
	// want is "Bearer <provider token>", set once before the load.
	want     atomic.Pointer[[]byte]
	unauthed atomic.Int64
}

// upstreamAnswer is /api/items's answer: about 1 KiB of JSON.
var upstreamAnswer = func() []byte {
	type item struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Status  string `json:"status"`
		Created string `json:"created_at"`
	}
	out := struct {
		Items []item `json:"items"`
		Next  string `json:"next_cursor"`
	}{Next: "eyJhZnRlciI6Iml0ZW1fMDAwMTAifQ"}
	for i := range 10 {
		out.Items = append(out.Items, item{ID: fmt.Sprintf("item_%05d", i+1), Name: fmt.Sprintf("bench item number %d of the page", i+1),
			Status: "active", Created: time.Date(2026, 1, 2, 3, 4, i, 0, time.UTC).Format(time.RFC3339)})
	}
	b, _ := json.Marshal(out)
	return b
}()

func startBenchUpstream(addr string) (*benchUpstream, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	u := &benchUpstream{url: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+upstreamAPIPath, func(w http.ResponseWriter, r *http.Request) {
		want := u.want.Load()
		if want == nil || subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), *want) != 1 {
			u.unauthed.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_token"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(upstreamAnswer)
	})
	mux.HandleFunc("GET "+upstreamNoopPath, func(http.ResponseWriter, *http.Request) {})
	u.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: mux}
	go func() { _ = u.srv.Serve(ln) }()
	return u, nil
}

// ServeUpstream serves the proxy scenarios' upstream API (/api/items
// and /noop, as above) on addr until ctx ends, expecting authorization
// as the whole Authorization header of /api/items; it returns how many
// requests it refused. For comparing other proxies with the credential
// proxy on the same upstream (scripts/proxy-ceiling.sh).
func ServeUpstream(ctx context.Context, addr, authorization string) (refused int64, err error) {
	up, err := startBenchUpstream(addr)
	if err != nil {
		return 0, err
	}
	want := []byte(authorization)
	up.want.Store(&want)
	<-ctx.Done()
	err = up.srv.Close()
	return up.unauthed.Load(), err
}

func prepareProxy(ctx context.Context, c *http.Client, cfg benchConfig) (target, error) {
	return prepareProxyTo(ctx, c, cfg, upstreamAPIPath)
}

func prepareProxyNoop(ctx context.Context, c *http.Client, cfg benchConfig) (target, error) {
	return prepareProxyTo(ctx, c, cfg, upstreamNoopPath)
}

func prepareProxyTo(ctx context.Context, c *http.Client, cfg benchConfig, path string) (target, error) {
	up, err := startBenchUpstream(cfg.UpstreamAddr)
	if err != nil {
		return target{}, err
	}
	cleanup := func() { _ = up.srv.Close() }
	fail := func(err error) (target, error) { cleanup(); return target{}, err }
	api, err := newBenchAPI(ctx, c, cfg)
	if err != nil {
		return fail(err)
	}
	out, err := api.call(ctx, http.MethodPost, "/v1/platform/apps", map[string]any{"name": "bench proxy " + randomHex(4),
		"requested_scopes": []string{"credentials:use"}}, 201)
	if err != nil {
		return fail(err)
	}
	var app struct {
		ID           string `json:"id"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out, &app); err != nil || app.ClientSecret == "" {
		return fail(fmt.Errorf("the created app's answer: %v", err))
	}
	if _, err := api.call(ctx, http.MethodPost, "/v1/platform/apps/"+app.ID+"/scope-decisions",
		map[string]any{"scope": "credentials:use", "decision": "approve"}, 200); err != nil {
		return fail(err)
	}
	out, err = api.call(ctx, http.MethodPost, "/v1/credentials", map[string]any{"name": "bench proxy " + randomHex(4),
		"provider": "custom", "grant_type": "client_credentials", "client_id": app.ClientID, "client_secret": app.ClientSecret,
		"token_url": cfg.URL + tokenPath, "scopes": []string{}, "base_url": up.url, "grants": []string{app.ID}, "exchangeable": true}, 201)
	if err != nil {
		return fail(fmt.Errorf("creating the credential (the server needs GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true): %w", err))
	}
	var cred struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &cred); err != nil || cred.ID == "" {
		return fail(fmt.Errorf("the created credential's answer: %v", err))
	}
	appCfg := cfg
	appCfg.ClientID, appCfg.ClientSecret, appCfg.Scope = app.ClientID, app.ClientSecret, "credentials:use"
	tok, err := mintOnce(ctx, c, appCfg)
	if err != nil {
		return fail(err)
	}
	provider, err := exchangeOnce(ctx, c, appCfg, tok, cred.ID)
	if err != nil {
		return fail(err)
	}
	want := []byte("Bearer " + provider)
	up.want.Store(&want)
	check := func(b []byte) bool { return bytes.Equal(b, upstreamAnswer) }
	if path == upstreamNoopPath {
		check = func(b []byte) bool { return len(b) == 0 }
	}

	// The baseline: the upstream called directly with the provider
	// token, same load; then the reference proxy, when named. bench
	// loads them in turn with the proxied target (--rounds).
	base := &baseline{Upstream: path}
	compare := []comparand{{url: up.url + path, authorization: string(want)}}
	if cfg.Reference != "" {
		ref := strings.TrimRight(cfg.Reference, "/") + path
		base.Reference = &referenceRun{URL: ref}
		compare = append(compare, comparand{url: ref, authorization: string(want)})
	}

	proxied := target{method: http.MethodGet, url: cfg.URL + "/v1/proxy/" + cred.ID + path,
		header: http.Header{"Authorization": {"Bearer " + tok}}, check: check, cleanup: cleanup, baseline: base, compare: compare}
	proxied.finish = func(context.Context) (string, error) {
		if n := up.unauthed.Load(); n > 0 {
			return "", fmt.Errorf("the upstream refused %d requests (not the provider token)", n)
		}
		return fmt.Sprintf("upstream %s direct: %.1f ok/s, p50 %s, p99 %s", path, base.OKRPS, fmtMs(base.P50ms), fmtMs(base.P99ms)), nil
	}
	return proxied, nil
}

// exchangeOnce is the provider token of credential cred that the proxy
// injects (its current version), by token exchange with the app's token.
func exchangeOnce(ctx context.Context, c *http.Client, cfg benchConfig, subject, cred string) (string, error) {
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {subject},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}, "resource": {cred}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL+tokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header = formHeader(cfg)
	return tokenOf(c, req, "token exchange for the credential")
}
