package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// The deliver scenario measures webhooks end to end (issue 5): it
// publishes events (POST /v1/events) as fast as its workers can, while a
// receiver it runs on loopback takes the deliveries. It reports
// deliveries/s and the event-to-delivery latency: from the event's time in
// the log (the body's "timestamp") to the delivery's arrival. The server
// must allow private webhook URLs (GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true),
// and the client must be an admin holding platform:catalog:write,
// platform:apps:write, webhooks:write and events:publish (the bootstrap
// admin does).

// Catalog entries the scenario defines (again and again: 409 is fine).
const (
	benchScope     = "bench:events"
	benchEventType = "bench.tick"
)

// deliveryStats is what the receiver measured.
type deliveryStats struct {
	Deliveries int64   `json:"deliveries"`
	PerSecond  float64 `json:"deliveries_per_s"`
	P50ms      float64 `json:"delivery_p50_ms"`
	P99ms      float64 `json:"delivery_p99_ms"`
	Duplicates int64   `json:"duplicates"`
	Missing    int64   `json:"missing"`
}

// benchReceiver takes deliveries and times them.
type benchReceiver struct {
	srv *http.Server
	url string

	mu       sync.Mutex
	from, to time.Time // the measured window of event times
	hist     histogram
	seen     map[string]bool
	n, dups  int64
	total    int64
}

func startBenchReceiver() (*benchReceiver, error) {
	r := &benchReceiver{seen: map[string]bool{}}
	var err error
	if r.srv, r.url, err = serveHook(http.HandlerFunc(r.take)); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *benchReceiver) take(w http.ResponseWriter, req *http.Request) {
	arrived := time.Now()
	var b struct {
		Timestamp time.Time `json:"timestamp"`
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil || json.Unmarshal(body, &b) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	id := req.Header.Get("webhook-id")
	r.mu.Lock()
	r.total++
	if r.seen[id] {
		r.dups++
	} else {
		r.seen[id] = true
		if !b.Timestamp.Before(r.from) && (r.to.IsZero() || b.Timestamp.Before(r.to)) && !r.from.IsZero() {
			r.n++
			r.hist.record(arrived.Sub(b.Timestamp))
		}
	}
	r.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// window sets the event times that count.
func (r *benchReceiver) window(from, to time.Time) {
	r.mu.Lock()
	r.from, r.to = from, to
	r.mu.Unlock()
}

func (r *benchReceiver) received() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return int64(len(r.seen))
}

func (r *benchReceiver) close() { _ = r.srv.Close() }

// prepareDeliver sets up the catalog, a webhook to the receiver, and the
// publish request.
func prepareDeliver(ctx context.Context, c *http.Client, cfg benchConfig) (target, error) {
	rcv, err := startBenchReceiver()
	if err != nil {
		return target{}, fmt.Errorf("deliver: receiver: %w", err)
	}
	api, whID, t, err := publishTo(ctx, c, cfg, rcv.url, rcv.close, map[string]any{"bench": true})
	if err != nil {
		return target{}, fmt.Errorf("deliver: %w", err)
	}
	t.receive = rcv
	t.cleanup = func() {
		_, _ = api.call(context.Background(), http.MethodDelete, "/v1/webhooks/"+whID, nil, 204)
		rcv.close()
	}
	return t, nil
}

// publishTo prepares a scenario that publishes data as bench's event type
// to a webhook it subscribes to url, served by a receiver that closeHook
// stops: the admin API with bench's catalog (newCatalogAPI), the webhook
// and the publish request. An error stops the receiver.
func publishTo(ctx context.Context, c *http.Client, cfg benchConfig, url string, closeHook func(), data any) (*benchAPI, string, target, error) {
	api, err := newCatalogAPI(ctx, c, cfg)
	var whID string
	if err == nil {
		whID, err = api.webhook(ctx, url)
	}
	if err != nil {
		closeHook()
		return nil, "", target{}, err
	}
	body, _ := json.Marshal(map[string]any{"type": benchEventType, "data": data})
	return api, whID, target{
		method: http.MethodPost, url: cfg.URL + "/v1/events", body: body,
		header: http.Header{"Authorization": {"Bearer " + api.token}, "Content-Type": {"application/json"}},
		check:  jsonCheck("seq", func(v []byte) bool { return len(v) > 0 && v[0] >= '0' && v[0] <= '9' }),
		okCode: http.StatusAccepted,
	}, nil
}

// benchAppID returns the id of the app whose token tok is.
func benchAppID(ctx context.Context, c *http.Client, cfg benchConfig, tok string) (string, error) {
	cursor := ""
	for range 100 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.URL+"/v1/platform/apps?limit=500&cursor="+cursor, nil)
		if err != nil {
			return "", err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := c.Do(req)
		if err != nil {
			return "", err
		}
		var page struct {
			Items []struct {
				ID       string `json:"id"`
				ClientID string `json:"client_id"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil {
			return "", fmt.Errorf("GET /v1/platform/apps: %w", err)
		}
		for _, a := range page.Items {
			if a.ClientID == cfg.ClientID {
				return a.ID, nil
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	return "", errors.New("the client's own app is not in GET /v1/platform/apps")
}

// finishDeliver waits (up to drain) for the deliveries of the events the
// measured phase published, then sums them up over the measured time.
func finishDeliver(r *benchReceiver, published int64, measured time.Duration, drain time.Duration) deliveryStats {
	deadline := time.Now().Add(drain)
	for r.received() < published && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	st := deliveryStats{Deliveries: r.n, Duplicates: r.dups, P50ms: ms(r.hist.percentile(50)), P99ms: ms(r.hist.percentile(99))}
	if s := measured.Seconds(); s > 0 {
		st.PerSecond = float64(r.n) / s
	}
	if missing := published - int64(len(r.seen)); missing > 0 {
		st.Missing = missing
	}
	return st
}
