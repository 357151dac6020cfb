package httpapi_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/httpapi"
)

func TestRequestID(t *testing.T) {
	e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{})
	e.GET("/id", func(c echo.Context) error { return c.String(200, httpapi.RequestID(c)) })
	e.GET("/fail", func(echo.Context) error { return httpapi.Conflict("x") })
	cases := []struct {
		name, sent string
		echoed     bool
	}{
		{"none sent", "", false},
		{"echoed", "abc-123_XYZ.~:/", true},
		{"128 chars echoed", strings.Repeat("a", 128), true},
		{"129 chars replaced", strings.Repeat("a", 129), false},
		{"space replaced", "a b", false},
		{"control replaced", "a\x01b", false},
		{"non-ascii replaced", "é", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/id", "/fail", "/missing"} {
				var hdr []string
				if tc.sent != "" {
					hdr = []string{httpapi.HeaderRequestID, tc.sent}
				}
				rec := serve(t, e, http.MethodGet, path, nil, hdr...)
				got := rec.Header().Get(httpapi.HeaderRequestID)
				if tc.echoed && got != tc.sent {
					t.Fatalf("%s: X-Request-Id = %q, want the caller's %q", path, got, tc.sent)
				}
				if !tc.echoed && (got == "" || got == tc.sent || len(got) > 128) {
					t.Fatalf("%s: X-Request-Id = %q, want a generated one", path, got)
				}
				if path == "/id" && rec.Body.String() != got {
					t.Fatalf("RequestID(c) = %q, header %q", rec.Body, got)
				}
			}
		})
	}
}

func TestGeneratedRequestIDsDiffer(t *testing.T) {
	e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{})
	seen := map[string]bool{}
	for range 100 {
		id := serve(t, e, http.MethodGet, "/healthz", nil).Header().Get(httpapi.HeaderRequestID)
		if seen[id] {
			t.Fatalf("request id %q generated twice", id)
		}
		seen[id] = true
	}
}

// echoBody registers POST /echo answering the decoded body's length.
func echoBody(e *echo.Echo) {
	e.POST("/echo", func(c echo.Context) error {
		var v struct {
			S string `json:"s"`
		}
		if err := httpapi.BindJSON(c, &v); err != nil {
			return err
		}
		return c.JSON(200, map[string]int{"len": len(v.S)})
	})
	e.POST("/raw", func(c echo.Context) error {
		b, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		return c.JSON(200, map[string]int{"len": len(b)})
	})
}

// jsonOfSize is {"s":"aaa…"} of exactly n bytes.
func jsonOfSize(n int) []byte {
	return []byte(`{"s":"` + strings.Repeat("a", n-8) + `"}`)
}

func TestBodyLimit(t *testing.T) {
	e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{})
	echoBody(e)
	ct := []string{"Content-Type", "application/json"}
	if rec := serve(t, e, http.MethodPost, "/echo", bytes.NewReader(jsonOfSize(1<<20)), ct...); rec.Code != 200 {
		t.Fatalf("a body of exactly 1 MiB = %d %s", rec.Code, rec.Body)
	}
	rec := serve(t, e, http.MethodPost, "/echo", bytes.NewReader(jsonOfSize(1<<20+1)), ct...)
	readProblem(t, rec, http.StatusRequestEntityTooLarge, httpapi.CodePayloadTooLarge)
}

func TestBodyLimitWithoutContentLength(t *testing.T) {
	e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{})
	echoBody(e)
	for _, path := range []string{"/echo", "/raw"} {
		req := httptest.NewRequest(http.MethodPost, path, io.MultiReader(bytes.NewReader(jsonOfSize(1<<20+1))))
		req.ContentLength = -1 // as a chunked request arrives
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		readProblem(t, rec, http.StatusRequestEntityTooLarge, httpapi.CodePayloadTooLarge)
	}
}

func TestBodyLimitOption(t *testing.T) {
	e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{BodyLimit: 16})
	echoBody(e)
	rec := serve(t, e, http.MethodPost, "/raw", strings.NewReader(strings.Repeat("x", 17)))
	readProblem(t, rec, http.StatusRequestEntityTooLarge, httpapi.CodePayloadTooLarge)
}

func TestAccessLogOnlyAtDebug(t *testing.T) {
	for _, tc := range []struct {
		level  slog.Level
		logged bool
	}{{slog.LevelDebug, true}, {slog.LevelInfo, false}} {
		e, logs := newPlumbing(t, tc.level, httpapi.Options{})
		serve(t, e, http.MethodGet, "/healthz", nil, httpapi.HeaderRequestID, "log-me")
		l := logs.String()
		got := strings.Contains(l, `"msg":"http request"`) && strings.Contains(l, `"request_id":"log-me"`) &&
			strings.Contains(l, `"route":"/healthz"`) && strings.Contains(l, `"status":200`)
		if got != tc.logged {
			t.Fatalf("level %v: access logged = %v, want %v: %s", tc.level, got, tc.logged, l)
		}
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{Registry: reg})
	e.GET("/things/:id", func(c echo.Context) error { return c.NoContent(204) })
	e.GET("/conflict", func(echo.Context) error { return httpapi.Conflict("x") })
	for _, p := range []string{"/things/1", "/things/2", "/conflict", "/nowhere/42"} {
		serve(t, e, http.MethodGet, p, nil)
	}
	rec := serve(t, e, http.MethodGet, "/metrics", nil)
	body := rec.Body.String()
	for _, want := range []string{
		`gatehouse_http_requests_total{method="GET",route="/things/:id",status="204"} 2`,
		`gatehouse_http_requests_total{method="GET",route="/conflict",status="409"} 1`,
		`gatehouse_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`gatehouse_http_request_duration_seconds_count{method="GET",route="/things/:id",status="204"} 2`,
		`gatehouse_http_request_duration_seconds_bucket{method="GET",route="/things/:id",status="204",le="0.0005"}`,
		"go_goroutines ",
		"process_start_time_seconds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, "/nowhere/42") {
		t.Error("a raw path became a label value")
	}
	if mfs, err := reg.Gather(); err != nil || len(mfs) == 0 {
		t.Fatalf("the registry given in Options was not used: %d families, %v", len(mfs), err)
	}
}

func TestMetricsSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{Registry: reg})
	b, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{Registry: reg})
	serve(t, a, http.MethodGet, "/healthz", nil)
	serve(t, b, http.MethodGet, "/healthz", nil)
	body := serve(t, a, http.MethodGet, "/metrics", nil).Body.String()
	if !strings.Contains(body, `gatehouse_http_requests_total{method="GET",route="/healthz",status="200"} 2`) {
		t.Fatalf("two servers on one registry do not share the series:\n%s", body)
	}
}
