package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// The proxy scenario measures the credential proxy (issue 16) against
// the same upstream called directly, in one run: bench serves a small
// upstream API on loopback, makes an app holding credentials:use and a
// client_credentials credential whose provider is the server itself
// (its own token endpoint) and whose base_url is that upstream, then
// loads the upstream directly for the same warmup, duration and
// concurrency (the baseline), and then through GET
// /v1/proxy/{credential}/ping (the measured run). The server must allow
// private addresses (GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true) and should not
// limit the platform API (GATEHOUSE_RATE_PLATFORM=0), or the figure
// measures the limit; the client must be an admin holding
// platform:apps:write, platform:scopes:approve and credentials:write (the
// bootstrap admin does).

// baseline is the direct run's figures.
type baseline struct {
	OKRPS  float64 `json:"ok_rps"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	Errors int64   `json:"errors"`
	// Ratio is the proxied ok_rps over the direct one, in percent;
	// AddedP50ms the proxied p50 less the direct one.
	Ratio      float64 `json:"ratio_pct"`
	AddedP50ms float64 `json:"added_p50_ms"`
}

// benchUpstream is the upstream API: /ping answers a small JSON body to
// a request that carries a bearer token, 401 otherwise.
type benchUpstream struct {
	srv      *http.Server
	url      string
	unauthed atomic.Int64
}

const upstreamAnswer = `{"ok":true,"service":"bench upstream","items":[1,2,3]}`

func startBenchUpstream() (*benchUpstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &benchUpstream{url: "http://" + ln.Addr().String()}
	u.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			u.unauthed.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(upstreamAnswer))
	})}
	go func() { _ = u.srv.Serve(ln) }()
	return u, nil
}

func prepareProxy(ctx context.Context, c *http.Client, cfg benchConfig) (target, error) {
	up, err := startBenchUpstream()
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
		"token_url": cfg.URL + tokenPath, "scopes": []string{}, "base_url": up.url, "grants": []string{app.ID}}, 201)
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
	check := func(b []byte) bool { return string(b) == upstreamAnswer }

	// The baseline: the upstream called directly, same load.
	direct := target{method: http.MethodGet, url: up.url + "/ping", header: http.Header{"Authorization": {"Bearer direct"}}, check: check}
	dial, err := newConnFunc(cfg.Transport, c, direct, cfg.Timeout)
	if err != nil {
		return fail(err)
	}
	st, elapsed := newRunner(dial, check, cfg).run(ctx, nil)
	d := newBenchResult(cfg, st, elapsed)
	base := &baseline{OKRPS: d.OKRPS, P50ms: d.P50ms, P99ms: d.P99ms, Errors: d.Errors}

	proxied := target{method: http.MethodGet, url: cfg.URL + "/v1/proxy/" + cred.ID + "/ping",
		header: http.Header{"Authorization": {"Bearer " + tok}}, check: check, cleanup: cleanup, baseline: base}
	proxied.finish = func(context.Context) (string, error) {
		if n := up.unauthed.Load(); n > 0 {
			return "", fmt.Errorf("the upstream got %d requests without a bearer token", n)
		}
		return fmt.Sprintf("direct: %.1f ok/s, p50 %s, p99 %s", base.OKRPS, fmtMs(base.P50ms), fmtMs(base.P99ms)), nil
	}
	return proxied, nil
}
