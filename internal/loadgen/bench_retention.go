package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The scenarios of issue 12's retention figures: each makes, by the
// hundred thousand, one kind of state that retention must drop (make
// bench then reads the server's live heap):
//
//   - revoke: mint+revoke cycles, revocations;
//   - idempotent: POSTs with an Idempotency-Key each, idempotency records;
//   - publish: large events to a webhook that fails them all, deliveries.

// prepareRevoke: each step mints a token and revokes it.
func prepareRevoke(_ context.Context, c *http.Client, cfg benchConfig) (target, error) {
	header := formHeader(cfg)
	return target{step: func(ctx context.Context) string {
		tok, err := mintOnce(ctx, c, cfg)
		if err != nil {
			return stepKind(ctx, err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL+revokePath, strings.NewReader(url.Values{"token": {tok}}.Encode()))
		if err != nil {
			return stepKind(ctx, err)
		}
		req.Header = header
		return answerKind(c.Do(req))(http.StatusOK)
	}}, nil
}

// prepareIdempotent: each step publishes a small event with an
// Idempotency-Key never used before.
func prepareIdempotent(ctx context.Context, c *http.Client, cfg benchConfig) (target, error) {
	api, err := newCatalogAPI(ctx, c, cfg)
	if err != nil {
		return target{}, fmt.Errorf("idempotent: %w", err)
	}
	body, _ := json.Marshal(map[string]any{"type": benchEventType, "data": map[string]any{"bench": true}})
	prefix := randomHex(8)
	var n atomic.Int64
	return target{step: func(ctx context.Context) string {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL+"/v1/events", bytes.NewReader(body))
		if err != nil {
			return stepKind(ctx, err)
		}
		req.Header.Set("Authorization", "Bearer "+api.token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", prefix+"-"+strconv.FormatInt(n.Add(1), 10))
		return answerKind(c.Do(req))(http.StatusAccepted)
	}}, nil
}

// preparePublish subscribes a webhook whose receiver answers 500 to
// everything, and publishes events of cfg.EventKiB KiB to it; finish
// waits until none of its deliveries is pending or retrying.
func preparePublish(ctx context.Context, c *http.Client, cfg benchConfig) (target, error) {
	rcv, err := startFailingReceiver()
	if err != nil {
		return target{}, fmt.Errorf("publish: receiver: %w", err)
	}
	api, whID, t, err := publishTo(ctx, c, cfg, rcv.url, rcv.close, map[string]any{"filler": strings.Repeat("x", cfg.EventKiB<<10)})
	if err != nil {
		return target{}, fmt.Errorf("publish: %w", err)
	}
	t.cleanup = rcv.close
	t.finish = func(ctx context.Context) (string, error) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(ctx, cfg.Settle)
		defer cancel()
		for {
			open := 0
			for _, status := range []string{"pending", "retrying"} {
				n, err := api.count(ctx, "/v1/webhooks/"+whID+"/deliveries?limit=1&status="+status)
				if err != nil {
					return "", fmt.Errorf("publish: waiting for the deliveries to end (after %s): %w", time.Since(start).Round(time.Second), err)
				}
				open += n
			}
			if open == 0 {
				return fmt.Sprintf("every delivery failed within %s of the load's end (%d attempts answered 500)",
					time.Since(start).Round(100*time.Millisecond), rcv.attempts.Load()), nil
			}
			select {
			case <-ctx.Done():
				return "", fmt.Errorf("publish: deliveries still pending or retrying %s after the load (--settle)", cfg.Settle)
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	return t, nil
}

// benchAPI calls the platform API with an admin token of cfg's client.
type benchAPI struct {
	c     *http.Client
	base  string
	token string
	cfg   benchConfig
}

func newBenchAPI(ctx context.Context, c *http.Client, cfg benchConfig) (*benchAPI, error) {
	tok, err := mintOnce(ctx, c, cfg)
	if err != nil {
		return nil, fmt.Errorf("minting an admin token: %w", err)
	}
	return &benchAPI{c: c, base: cfg.URL, token: tok, cfg: cfg}, nil
}

// newCatalogAPI is newBenchAPI with bench's scope and event type in the
// catalog and granted (benchAPI.catalog).
func newCatalogAPI(ctx context.Context, c *http.Client, cfg benchConfig) (*benchAPI, error) {
	api, err := newBenchAPI(ctx, c, cfg)
	if err != nil {
		return nil, err
	}
	return api, api.catalog(ctx)
}

// call sends body as JSON and returns the answer's body when its status
// is one of ok.
func (a *benchAPI) call(ctx context.Context, method, path string, body any, ok ...int) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		js, _ := json.Marshal(body)
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := a.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	for _, s := range ok {
		if res.StatusCode == s {
			return out, nil
		}
	}
	return nil, fmt.Errorf("%s %s: %s %s", method, path, res.Status, bytes.TrimSpace(out))
}

// catalog defines bench's scope and event type (409: they exist) and
// grants the scope to cfg's client's app.
func (a *benchAPI) catalog(ctx context.Context) error {
	if _, err := a.call(ctx, http.MethodPost, "/v1/platform/scopes", map[string]any{"name": benchScope, "description": "gatehouse bench", "requires_approval": false}, 201, 409); err != nil {
		return err
	}
	if _, err := a.call(ctx, http.MethodPost, "/v1/platform/event-types", map[string]any{"name": benchEventType, "description": "gatehouse bench", "scope": benchScope}, 201, 409); err != nil {
		return err
	}
	me, err := benchAppID(ctx, a.c, a.cfg, a.token)
	if err != nil {
		return err
	}
	_, err = a.call(ctx, http.MethodPost, "/v1/platform/apps/"+me+"/scope-requests", map[string]any{"scopes": []string{benchScope}}, 200, 201)
	return err
}

// webhook subscribes url to bench's event type and returns its id.
func (a *benchAPI) webhook(ctx context.Context, url string) (string, error) {
	out, err := a.call(ctx, http.MethodPost, "/v1/webhooks", map[string]any{"url": url, "events": []string{benchEventType}, "description": "gatehouse bench"}, 201)
	if err != nil {
		return "", fmt.Errorf("%w (does the server allow private webhook URLs? GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true)", err)
	}
	var wh struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &wh); err != nil || wh.ID == "" {
		return "", fmt.Errorf("POST /v1/webhooks: no id in %s", out)
	}
	return wh.ID, nil
}

// count returns how many items the first page of the list at path has.
func (a *benchAPI) count(ctx context.Context, path string) (int, error) {
	out, err := a.call(ctx, http.MethodGet, path, nil, 200)
	if err != nil {
		return 0, err
	}
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(out, &page); err != nil {
		return 0, fmt.Errorf("GET %s: %w", path, err)
	}
	return len(page.Items), nil
}

// failingReceiver answers 500 to every delivery, after reading it.
type failingReceiver struct {
	srv      *http.Server
	url      string
	attempts atomic.Int64
}

func startFailingReceiver() (*failingReceiver, error) {
	r := &failingReceiver{}
	var err error
	if r.srv, r.url, err = serveHook(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.attempts.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	})); err != nil {
		return nil, err
	}
	return r, nil
}

// serveHook serves h on a port of its own on 127.0.0.1 and returns the
// server and the URL a webhook posts to.
func serveHook(h http.Handler) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, "http://" + ln.Addr().String() + "/hook", nil
}

func (r *failingReceiver) close() { _ = r.srv.Close() }

// answerKind reads and closes an answer and returns a function of the
// wanted status giving the step's kind of error.
func answerKind(res *http.Response, err error) func(want int) string {
	if err != nil {
		return func(int) string { return transportKind(err) }
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return func(want int) string {
		if res.StatusCode != want {
			return "status " + strconv.Itoa(res.StatusCode)
		}
		return ""
	}
}

// stepKind is the kind of error of a step that failed before its last
// request: a transport error, or the status mintOnce names.
func stepKind(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return errTimeout
	}
	msg := err.Error()
	if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, "POST ") {
		if f := strings.Fields(msg[i+2:]); len(f) > 0 {
			if f[0] == "200" {
				return errBadBody // a 200 without an access_token
			}
			return "status " + f[0]
		}
	}
	return transportKind(err)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
