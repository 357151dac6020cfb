package httpapi_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/projections"
)

func TestProblemWriter(t *testing.T) {
	cases := []struct {
		name    string
		err     error
		status  int
		code    string
		headers map[string]string // header → value it must have
	}{
		{"validation", httpapi.Validation(httpapi.FieldError{Field: "name", Message: "is required"}), 400, httpapi.CodeValidation, nil},
		{"bad request", httpapi.BadRequest("malformed"), 400, httpapi.CodeValidation, nil},
		{"unauthorized", httpapi.Unauthorized("token expired"), 401, httpapi.CodeUnauthorized,
			map[string]string{"WWW-Authenticate": `Bearer realm="gatehouse"`}},
		{"insufficient scope", httpapi.InsufficientScope("platform:apps:write"), 403, httpapi.CodeInsufficientScope,
			map[string]string{"WWW-Authenticate": `Bearer realm="gatehouse", error="insufficient_scope", scope="platform:apps:write"`}},
		{"forbidden", httpapi.Forbidden("no"), 403, httpapi.CodeForbidden, map[string]string{"WWW-Authenticate": ""}},
		{"not found", httpapi.NotFound("app"), 404, httpapi.CodeNotFound, nil},
		{"conflict", httpapi.Conflict("name taken"), 409, httpapi.CodeConflict, nil},
		{"precondition", httpapi.PreconditionFailed("stale"), 412, httpapi.CodePreconditionFailed, nil},
		{"too large", httpapi.PayloadTooLarge(1 << 20), 413, httpapi.CodePayloadTooLarge, nil},
		{"media type", httpapi.UnsupportedMediaType("send json"), 415, httpapi.CodeUnsupportedMediaType, nil},
		{"idempotency", httpapi.IdempotencyKeyReused(), 422, httpapi.CodeIdempotencyKeyReused, nil},
		{"rate limited", httpapi.RateLimited(1500 * time.Millisecond), 429, httpapi.CodeRateLimited,
			map[string]string{"Retry-After": "2"}},
		{"rate limited no delay", httpapi.RateLimited(0), 429, httpapi.CodeRateLimited,
			map[string]string{"Retry-After": "1"}},
		{"internal", httpapi.Internal(errors.New("x")), 500, httpapi.CodeInternal, nil},
		{"unavailable", httpapi.Unavailable(30*time.Second, nil), 503, httpapi.CodeUnavailable,
			map[string]string{"Retry-After": "30"}},
		{"wrapped problem", fmt.Errorf("deciding: %w", httpapi.Conflict("x")), 409, httpapi.CodeConflict, nil},
		{"log unavailable", fmt.Errorf("append: %w", events.ErrUnavailable), 503, httpapi.CodeUnavailable,
			map[string]string{"Retry-After": "5"}},
		{"store unavailable", fmt.Errorf("get: %w", projections.ErrUnavailable), 503, httpapi.CodeUnavailable,
			map[string]string{"Retry-After": "5"}},
		{"echo 404", echo.ErrNotFound, 404, httpapi.CodeNotFound, nil},
		{"echo 413", echo.ErrStatusRequestEntityTooLarge, 413, httpapi.CodePayloadTooLarge, nil},
		{"echo 415", echo.ErrUnsupportedMediaType, 415, httpapi.CodeUnsupportedMediaType, nil},
		{"echo 400", echo.NewHTTPError(400, "bad param"), 400, httpapi.CodeValidation, nil},
		{"echo 401", echo.ErrUnauthorized, 401, httpapi.CodeUnauthorized, map[string]string{"WWW-Authenticate": `Bearer realm="gatehouse"`}},
		{"echo 503", echo.ErrServiceUnavailable, 503, httpapi.CodeUnavailable, map[string]string{"Retry-After": "5"}},
		{"echo 502", echo.ErrBadGateway, 500, httpapi.CodeInternal, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{})
			e.GET("/x", func(echo.Context) error { return tc.err })
			rec := serve(t, e, http.MethodGet, "/x", nil)
			p := readProblem(t, rec, tc.status, tc.code)
			if p.Detail == "" {
				t.Error("empty detail")
			}
			for h, want := range tc.headers {
				if got := rec.Header().Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if tc.status != 401 && tc.status != 403 && rec.Header().Get("WWW-Authenticate") != "" {
				t.Errorf("WWW-Authenticate on %d", tc.status)
			}
			if tc.status != 429 && tc.status != 503 && rec.Header().Get("Retry-After") != "" {
				t.Errorf("Retry-After on %d", tc.status)
			}
		})
	}
}

func TestValidationListsFields(t *testing.T) {
	e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{})
	e.POST("/x", func(echo.Context) error {
		return httpapi.Validation(
			httpapi.FieldError{Field: "name", Message: "is required"},
			httpapi.FieldError{Field: "redirect_uris[0]", Message: "must be absolute"})
	})
	p := readProblem(t, serve(t, e, http.MethodPost, "/x", nil), 400, httpapi.CodeValidation)
	if len(p.Errors) != 2 || p.Errors[0] != (httpapi.FieldError{Field: "name", Message: "is required"}) || p.Errors[1].Field != "redirect_uris[0]" {
		t.Fatalf("errors = %+v", p.Errors)
	}
}

func TestUnknownErrorIsLoggedNeverShown(t *testing.T) {
	e, logs := newPlumbing(t, slog.LevelInfo, httpapi.Options{})
	e.GET("/x", func(echo.Context) error { return errors.New("pq: password authentication failed for user gh") })
	rec := serve(t, e, http.MethodGet, "/x", nil, httpapi.HeaderRequestID, "req-42")
	readProblem(t, rec, 500, httpapi.CodeInternal)
	if strings.Contains(rec.Body.String(), "pq:") || strings.Contains(rec.Body.String(), "password") {
		t.Fatalf("internal error leaked: %s", rec.Body)
	}
	l := logs.String()
	if !strings.Contains(l, "pq: password authentication failed") || !strings.Contains(l, `"request_id":"req-42"`) || !strings.Contains(l, `"level":"ERROR"`) {
		t.Fatalf("cause not logged with request id at error level: %s", l)
	}
}

func TestInternalDetailNeverLeaks(t *testing.T) {
	e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{})
	e.GET("/x", func(echo.Context) error {
		return httpapi.NewProblem(httpapi.CodeInternal, "dial tcp 10.0.0.7:5432: refused")
	})
	rec := serve(t, e, http.MethodGet, "/x", nil)
	readProblem(t, rec, 500, httpapi.CodeInternal)
	if strings.Contains(rec.Body.String(), "10.0.0.7") {
		t.Fatalf("detail of a 500 leaked: %s", rec.Body)
	}
}

func TestFourHundredsAreNotLoggedAtInfo(t *testing.T) {
	e, logs := newPlumbing(t, slog.LevelInfo, httpapi.Options{})
	e.GET("/x", func(echo.Context) error { return httpapi.NotFound("app") })
	serve(t, e, http.MethodGet, "/x", nil)
	if l := logs.String(); l != "" {
		t.Fatalf("a 404 was logged at info: %s", l)
	}
}

func TestHeadProblemHasNoBody(t *testing.T) {
	e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{})
	e.HEAD("/x", func(echo.Context) error { return httpapi.NotFound("") })
	rec := serve(t, e, http.MethodHead, "/x", nil)
	if rec.Code != 404 || rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != httpapi.ProblemContentType {
		t.Fatalf("HEAD = %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}

func TestProblemUnwrapsCause(t *testing.T) {
	sentinel := errors.New("sentinel")
	p := httpapi.Unavailable(time.Second, fmt.Errorf("wrapped: %w", sentinel))
	if !errors.Is(p, sentinel) {
		t.Fatal("errors.Is does not see the cause")
	}
	if !strings.Contains(p.Error(), "sentinel") || !strings.HasPrefix(p.Error(), httpapi.CodeUnavailable) {
		t.Fatalf("Error() = %q", p.Error())
	}
	q := httpapi.Conflict("x")
	if r := q.WithCause(sentinel); r == q || q.Unwrap() != nil {
		t.Fatal("WithCause changed its receiver")
	}
}

func TestStatusOfEveryCode(t *testing.T) {
	want := map[string]int{
		httpapi.CodeValidation: 400, httpapi.CodeUnauthorized: 401, httpapi.CodeInsufficientScope: 403,
		httpapi.CodeForbidden: 403, httpapi.CodeNotFound: 404, httpapi.CodeMethodNotAllowed: 405,
		httpapi.CodeConflict: 409, httpapi.CodePreconditionFailed: 412, httpapi.CodePayloadTooLarge: 413,
		httpapi.CodeUnsupportedMediaType: 415, httpapi.CodeIdempotencyKeyReused: 422,
		httpapi.CodeRateLimited: 429, httpapi.CodeInternal: 500, httpapi.CodeUnavailable: 503,
		"no_such_code": 500,
	}
	for code, status := range want {
		if got := httpapi.Status(code); got != status {
			t.Errorf("Status(%s) = %d, want %d", code, got, status)
		}
		if p := httpapi.NewProblem(code, "d"); p.Status != status {
			t.Errorf("NewProblem(%s).Status = %d, want %d", code, p.Status, status)
		}
	}
}

// TestRetryable: an answer that asks for the same request again (a lost
// race, a problem marked AsRetry, 429, 5xx) is retryable; the request's
// own outcome (a 409 of a taken name, a 400, a 404) is not.
func TestRetryable(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"none", nil, false},
		{"lost race", fmt.Errorf("rotate: %w", command.ErrContended), true},
		{"problem with a lost race as cause", httpapi.Conflict("x").WithCause(command.ErrContended), true},
		{"marked", httpapi.Conflict("in flight").AsRetry(), true},
		{"rate limited", httpapi.RateLimited(time.Second), true},
		{"unavailable", httpapi.Unavailable(time.Second, events.ErrUnavailable), true},
		{"log unreachable", fmt.Errorf("append: %w", events.ErrUnavailable), true},
		{"unknown", errors.New("boom"), true},
		{"taken name", httpapi.Conflict("an app named x already exists"), false},
		{"validation", httpapi.BadRequest("malformed"), false},
		{"not found", httpapi.NotFound("app"), false},
		{"stale", &command.StaleError{Current: 2}, false},
	}
	for _, tc := range cases {
		if got := httpapi.Retryable(tc.err); got != tc.want {
			t.Errorf("%s: Retryable %v, want %v", tc.name, got, tc.want)
		}
	}
}
