package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/httpapi"
)

func TestHealthz(t *testing.T) {
	e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{Ready: []httpapi.ReadinessCheck{failing("log", errors.New("down"))}})
	rec := serve(t, e, http.MethodGet, "/healthz", nil)
	if rec.Code != 200 || rec.Body.String() != `{"status":"ok"}` || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("healthz = %d %q %s (it must not depend on readiness)", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}

func passing(name string) httpapi.ReadinessCheck {
	return httpapi.ReadinessCheck{Name: name, Check: func(context.Context) error { return nil }}
}

func failing(name string, err error) httpapi.ReadinessCheck {
	return httpapi.ReadinessCheck{Name: name, Check: func(context.Context) error { return err }}
}

func TestReadyzAllPass(t *testing.T) {
	e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{Ready: []httpapi.ReadinessCheck{passing("log"), passing("projections")}})
	rec := serve(t, e, http.MethodGet, "/readyz", nil)
	var body struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 200 {
		t.Fatalf("readyz = %d %s (%v)", rec.Code, rec.Body, err)
	}
	if body.Status != "ok" || body.Checks["log"] != "ok" || body.Checks["projections"] != "ok" {
		t.Fatalf("readyz body = %+v", body)
	}
}

func TestReadyzNoChecks(t *testing.T) {
	e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{})
	if rec := serve(t, e, http.MethodGet, "/readyz", nil); rec.Code != 200 {
		t.Fatalf("readyz without checks = %d %s", rec.Code, rec.Body)
	}
}

func TestReadyzNamesFailedChecks(t *testing.T) {
	e, logs := newPlumbing(t, slog.LevelInfo, httpapi.Options{Ready: []httpapi.ReadinessCheck{
		failing("log", errors.New("nats: no servers available for connection")),
		passing("keys"),
		failing("projections", errors.New("lag 12000 events")),
	}})
	rec := serve(t, e, http.MethodGet, "/readyz", nil)
	p := readProblem(t, rec, http.StatusServiceUnavailable, httpapi.CodeUnavailable)
	if p.Detail != "not ready: log, projections" {
		t.Fatalf("detail = %q", p.Detail)
	}
	if rec.Header().Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	if strings.Contains(rec.Body.String(), "nats:") {
		t.Fatalf("a check's error leaked: %s", rec.Body)
	}
	if l := logs.String(); !strings.Contains(l, "nats: no servers available") || !strings.Contains(l, "lag 12000") {
		t.Fatalf("failed checks not logged: %s", l)
	}
}

func TestReadyzCheckTimeout(t *testing.T) {
	hang := httpapi.ReadinessCheck{Name: "slow", Check: func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{Ready: []httpapi.ReadinessCheck{hang}, ReadyTimeout: 20 * time.Millisecond})
	start := time.Now()
	rec := serve(t, e, http.MethodGet, "/readyz", nil)
	readProblem(t, rec, http.StatusServiceUnavailable, httpapi.CodeUnavailable)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("readyz took %s: the check's deadline was not applied", d)
	}
}
