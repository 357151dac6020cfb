package httpapi_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
)

// newPlumbing returns NewEcho(opts) logging JSON at level into the
// returned buffer.
func newPlumbing(t *testing.T, level slog.Level, opts httpapi.Options) (*echo.Echo, *syncbuf.Buffer) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level}))
	return httpapi.NewEcho(opts), logs
}

// serve sends one request to e; headers come in name, value pairs.
func serve(t *testing.T, e http.Handler, method, path string, body io.Reader, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// problemDoc is a problem document as a client decodes it.
type problemDoc struct {
	Type   string               `json:"type"`
	Title  string               `json:"title"`
	Status int                  `json:"status"`
	Detail string               `json:"detail"`
	Code   string               `json:"code"`
	Errors []httpapi.FieldError `json:"errors"`
}

// readProblem checks that rec is a problem+json answer of status and code
// and returns it decoded.
func readProblem(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) problemDoc {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != httpapi.ProblemContentType {
		t.Fatalf("Content-Type = %q, want %q", ct, httpapi.ProblemContentType)
	}
	var p problemDoc
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decode problem: %v", err)
	}
	if p.Status != status || p.Code != code || p.Type != httpapi.ProblemTypeBase+code || p.Title == "" {
		t.Fatalf("problem = %+v, want status %d code %s with its type and a title", p, status, code)
	}
	return p
}

func TestNewEchoZeroOptions(t *testing.T) {
	e := httpapi.NewEcho(httpapi.Options{})
	rec := serve(t, e, http.MethodGet, "/healthz", nil)
	if rec.Code != http.StatusOK || rec.Header().Get(httpapi.HeaderRequestID) == "" {
		t.Fatalf("healthz = %d, request id %q", rec.Code, rec.Header().Get(httpapi.HeaderRequestID))
	}
}

func TestNewEchoTwiceOnOneRegistry(t *testing.T) {
	opts := httpapi.Options{}
	a := httpapi.NewEcho(opts)
	b := httpapi.NewEcho(opts) // a fresh registry each: nothing shared
	for _, e := range []*echo.Echo{a, b} {
		if rec := serve(t, e, http.MethodGet, "/metrics", nil); rec.Code != http.StatusOK {
			t.Fatalf("metrics = %d", rec.Code)
		}
	}
}

func TestUnknownRouteIsNotFoundProblem(t *testing.T) {
	e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{})
	rec := serve(t, e, http.MethodGet, "/nope", nil)
	readProblem(t, rec, http.StatusNotFound, httpapi.CodeNotFound)
	if rec.Header().Get(httpapi.HeaderRequestID) == "" {
		t.Fatal("404 without X-Request-Id")
	}
}

func TestWrongMethodIsMethodNotAllowedProblem(t *testing.T) {
	e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{})
	rec := serve(t, e, http.MethodDelete, "/healthz", nil)
	readProblem(t, rec, http.StatusMethodNotAllowed, httpapi.CodeMethodNotAllowed)
	if allow := rec.Header().Get("Allow"); !strings.Contains(allow, http.MethodGet) {
		t.Fatalf("Allow = %q, want it to list GET", allow)
	}
}

func TestPanicIsInternalProblem(t *testing.T) {
	e, logs := newPlumbing(t, slog.LevelInfo, httpapi.Options{})
	e.GET("/boom", func(echo.Context) error { panic("kaboom-secret") })
	rec := serve(t, e, http.MethodGet, "/boom", nil, httpapi.HeaderRequestID, "panic-1")
	p := readProblem(t, rec, http.StatusInternalServerError, httpapi.CodeInternal)
	if strings.Contains(p.Detail, "kaboom") {
		t.Fatalf("panic value leaked: %q", p.Detail)
	}
	if l := logs.String(); !strings.Contains(l, "kaboom-secret") || !strings.Contains(l, `"request_id":"panic-1"`) || !strings.Contains(l, "goroutine") {
		t.Fatalf("panic not logged with its value, request id and stack: %s", l)
	}
}

func TestPanicAbortHandlerIsReraised(t *testing.T) {
	e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{})
	e.GET("/abort", func(echo.Context) error { panic(http.ErrAbortHandler) })
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler re-raised", v)
		}
	}()
	serve(t, e, http.MethodGet, "/abort", nil)
	t.Fatal("no panic reached the caller")
}

func TestServesOverRealHTTP(t *testing.T) {
	e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	res, err := srv.Client().Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(body) != `{"status":"ok"}` {
		t.Fatalf("GET /healthz = %d %s", res.StatusCode, body)
	}
}

// BenchmarkPlumbing is the cost the shared middleware adds to a request:
// request id, metrics, body limit, recovery, routing, at log level info.
func BenchmarkPlumbing(b *testing.B) {
	e := httpapi.NewEcho(httpapi.Options{Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	e.GET("/apps/:id", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	req := httptest.NewRequest(http.MethodGet, "/apps/123", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusNoContent {
			b.Fatal(rec.Code)
		}
	}
}

// TestNoStoreValuesAreTheAnswers: NoStore marks every answer, and a
// handler adding to or replacing the headers on one answer changes
// neither the next answer's headers nor the values NoStore shares.
func TestNoStoreValuesAreTheAnswers(t *testing.T) {
	e := httpapi.NewEcho(httpapi.Options{})
	first := true
	e.GET("/secret", func(c echo.Context) error {
		if first {
			first = false
			c.Response().Header().Add("Cache-Control", "private")
			c.Response().Header().Set("Pragma", "changed")
		}
		return c.NoContent(http.StatusNoContent)
	}, httpapi.NoStore)
	for i, want := range [][2]string{{"no-store, private", "changed"}, {"no-store", "no-cache"}} {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/secret", nil))
		got := [2]string{strings.Join(rec.Header().Values("Cache-Control"), ", "), strings.Join(rec.Header().Values("Pragma"), ", ")}
		if got != want {
			t.Fatalf("answer %d: Cache-Control %q, Pragma %q; want %q", i, got[0], got[1], want)
		}
	}
}
