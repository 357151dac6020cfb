package graphql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/graphql/generated"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
)

// hiddenFailures is a transport whose resolvers fail behind "internal
// error": GET /v1/webhooks/w1 panics in the resolver (the bridge's
// router is called in the resolver's goroutine), GET
// /v1/credentials/c1 answers a 2xx that does not decode (a cause kept
// only in internalError). It records the X-Request-Id of the inner
// requests.
type hiddenFailures struct {
	mu    sync.Mutex
	inner []string
}

func (h *hiddenFailures) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.inner = append(h.inner, r.Header.Get(httpapi.HeaderRequestID))
	h.mu.Unlock()
	if r.URL.Path == "/v1/webhooks/w1" {
		panic("boom: pgx pool closed")
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"id": pgx-connection-refused`))
}

// TestHiddenFailuresAreLogged: a resolver's panic and an internal
// error's cause are answered "internal error" and nothing more, and are
// logged at level error with what leads to them: the panic's value and
// stack, the cause, the request id the caller was answered with (its own
// X-Request-Id, or the one the server made, which the inner requests
// carry too) and the operation's name. The recover func and the
// presenter logged nothing: a 500 of GraphQL had no trace in the log.
func TestHiddenFailuresAreLogged(t *testing.T) {
	for _, sent := range []string{"req-probe-1", ""} {
		var buf bytes.Buffer
		log := slog.New(slog.NewJSONHandler(&buf, nil))
		failing := &hiddenFailures{}
		s := &Server{Logger: log}
		s.exec = newExecutor(generated.NewExecutableSchema(generated.Config{Resolvers: &resolver{router: failing}, Complexity: costs()}),
			DefaultMaxDepth, DefaultMaxCost, s.logger())
		e := httpapi.NewEcho(httpapi.Options{Logger: log})
		e.POST("/v1/graphql", s.serve, func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				oauth.SetPrincipal(c, oauth.Principal{Tenant: "t1", AppID: "app-1", Scopes: []string{ScopeAdhoc}})
				return next(c)
			}
		})
		body := `{"query": "query Probe { webhook(id: \"w1\") { id } credential(id: \"c1\") { id } }", "operationName": "Probe"}`
		req := httptest.NewRequest(http.MethodPost, "/v1/graphql", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sent != "" {
			req.Header.Set(httpapi.HeaderRequestID, sent)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)

		id := w.Header().Get(httpapi.HeaderRequestID)
		if w.Code != http.StatusOK || id == "" || sent != "" && id != sent {
			t.Fatalf("sent id %q: %d, X-Request-Id %q: %s", sent, w.Code, id, w.Body)
		}
		var a struct {
			Errors []struct {
				Message    string
				Extensions map[string]any
			}
		}
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || len(a.Errors) != 2 {
			t.Fatalf("want two errors: %v %s", err, w.Body)
		}
		for _, e := range a.Errors {
			if e.Message != "internal error" || e.Extensions["code"] != "internal" {
				t.Errorf("error %q %v, want internal error", e.Message, e.Extensions)
			}
		}
		for _, leak := range []string{"boom", "pgx", "decode", "goroutine"} {
			if strings.Contains(w.Body.String(), leak) {
				t.Errorf("the answer holds %q: %s", leak, w.Body)
			}
		}
		for _, inner := range failing.inner {
			if inner != id {
				t.Errorf("an inner request carried X-Request-Id %q, the answer %q", inner, id)
			}
		}

		lines := map[string]map[string]any{}
		for _, l := range strings.Split(buf.String(), "\n") {
			if l == "" {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("log line %q: %v", l, err)
			}
			if msg, _ := m["msg"].(string); strings.HasPrefix(msg, "graphql ") {
				lines[msg] = m
			}
		}
		p, f := lines["graphql resolver panicked"], lines["graphql field failed"]
		if p == nil || f == nil {
			t.Fatalf("no log of the panic or of the cause:\n%s", buf.String())
		}
		stack, _ := p["stack"].(string)
		if p["level"] != "ERROR" || p["panic"] != "boom: pgx pool closed" || !strings.Contains(stack, "(*hiddenFailures).ServeHTTP") ||
			p["request_id"] != id || p["operation"] != "Probe" || p["path"] != "webhook" {
			t.Errorf("the panic's log line: %v", p)
		}
		cause, _ := f["error"].(string)
		if f["level"] != "ERROR" || !strings.Contains(cause, "decode the answer of GET /v1/credentials/c1") ||
			f["request_id"] != id || f["operation"] != "Probe" || f["path"] != "credential" {
			t.Errorf("the cause's log line: %v", f)
		}
	}
}

// TestHiddenCauseLoggedOncePerRequest: the batch of App.webhooks gives
// its one failure to every app of the answer (own: a copy per field);
// its cause is logged once for the request, not once per app, and
// another cause, or the same in another request, is logged too.
func TestHiddenCauseLoggedOncePerRequest(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	req := httptest.NewRequest(http.MethodPost, "/v1/graphql", nil)
	shared := internalError(errors.New("projections: connection refused"))
	for _, ctx := range []context.Context{withCaller(context.Background(), req, "r1"), withCaller(context.Background(), req, "r2")} {
		for range 3 {
			presentError(ctx, log, own(shared))
		}
		presentError(ctx, log, internalError(errors.New("decode: unexpected EOF")))
	}
	if n := strings.Count(buf.String(), "connection refused"); n != 2 {
		t.Errorf("the shared cause logged %d times for two requests, want 2:\n%s", n, buf.String())
	}
	if n := strings.Count(buf.String(), "unexpected EOF"); n != 2 {
		t.Errorf("the other cause logged %d times, want 2:\n%s", n, buf.String())
	}
}
