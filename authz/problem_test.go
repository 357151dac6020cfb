package authz_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/events"
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
		{"validation", authz.Validation(authz.FieldError{Field: "name", Message: "is required"}), 400, authz.CodeValidation, nil},
		{"bad request", authz.BadRequest("malformed"), 400, authz.CodeValidation, nil},
		{"unauthorized", authz.Unauthorized("token expired"), 401, authz.CodeUnauthorized,
			map[string]string{"WWW-Authenticate": `Bearer realm="gatehouse"`}},
		{"insufficient scope", authz.InsufficientScope("platform:apps:write"), 403, authz.CodeInsufficientScope,
			map[string]string{"WWW-Authenticate": `Bearer realm="gatehouse", error="insufficient_scope", scope="platform:apps:write"`}},
		{"forbidden", authz.Forbidden("no"), 403, authz.CodeForbidden, map[string]string{"WWW-Authenticate": ""}},
		{"not found", authz.NotFound("app"), 404, authz.CodeNotFound, nil},
		{"conflict", authz.Conflict("name taken"), 409, authz.CodeConflict, nil},
		{"precondition", authz.PreconditionFailed("stale"), 412, authz.CodePreconditionFailed, nil},
		{"too large", authz.PayloadTooLarge(1 << 20), 413, authz.CodePayloadTooLarge, nil},
		{"media type", authz.UnsupportedMediaType("send json"), 415, authz.CodeUnsupportedMediaType, nil},
		{"idempotency", authz.IdempotencyKeyReused(), 422, authz.CodeIdempotencyKeyReused, nil},
		{"rate limited", authz.RateLimited(1500 * time.Millisecond), 429, authz.CodeRateLimited,
			map[string]string{"Retry-After": "2"}},
		{"rate limited no delay", authz.RateLimited(0), 429, authz.CodeRateLimited,
			map[string]string{"Retry-After": "1"}},
		{"internal", authz.Internal(errors.New("x")), 500, authz.CodeInternal, nil},
		{"unavailable", authz.Unavailable(30*time.Second, nil), 503, authz.CodeUnavailable,
			map[string]string{"Retry-After": "30"}},
		{"wrapped problem", fmt.Errorf("deciding: %w", authz.Conflict("x")), 409, authz.CodeConflict, nil},
		{"log unavailable", fmt.Errorf("append: %w", events.ErrUnavailable), 503, authz.CodeUnavailable,
			map[string]string{"Retry-After": "5"}},
		{"store unavailable", fmt.Errorf("get: %w", projections.ErrUnavailable), 503, authz.CodeUnavailable,
			map[string]string{"Retry-After": "5"}},
		{"echo 404", echo.ErrNotFound, 404, authz.CodeNotFound, nil},
		{"echo 413", echo.ErrStatusRequestEntityTooLarge, 413, authz.CodePayloadTooLarge, nil},
		{"echo 415", echo.ErrUnsupportedMediaType, 415, authz.CodeUnsupportedMediaType, nil},
		{"echo 400", echo.NewHTTPError(400, "bad param"), 400, authz.CodeValidation, nil},
		{"echo 401", echo.ErrUnauthorized, 401, authz.CodeUnauthorized, map[string]string{"WWW-Authenticate": `Bearer realm="gatehouse"`}},
		{"echo 503", echo.ErrServiceUnavailable, 503, authz.CodeUnavailable, map[string]string{"Retry-After": "5"}},
		{"echo 502", echo.ErrBadGateway, 500, authz.CodeInternal, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := newPlumbing(t, slog.LevelInfo, authz.Options{})
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
	e, _ := newPlumbing(t, slog.LevelInfo, authz.Options{})
	e.POST("/x", func(echo.Context) error {
		return authz.Validation(
			authz.FieldError{Field: "name", Message: "is required"},
			authz.FieldError{Field: "redirect_uris[0]", Message: "must be absolute"})
	})
	p := readProblem(t, serve(t, e, http.MethodPost, "/x", nil), 400, authz.CodeValidation)
	if len(p.Errors) != 2 || p.Errors[0] != (authz.FieldError{Field: "name", Message: "is required"}) || p.Errors[1].Field != "redirect_uris[0]" {
		t.Fatalf("errors = %+v", p.Errors)
	}
}

func TestUnknownErrorIsLoggedNeverShown(t *testing.T) {
	e, logs := newPlumbing(t, slog.LevelInfo, authz.Options{})
	e.GET("/x", func(echo.Context) error { return errors.New("pq: password authentication failed for user gh") })
	rec := serve(t, e, http.MethodGet, "/x", nil, authz.HeaderRequestID, "req-42")
	readProblem(t, rec, 500, authz.CodeInternal)
	if strings.Contains(rec.Body.String(), "pq:") || strings.Contains(rec.Body.String(), "password") {
		t.Fatalf("internal error leaked: %s", rec.Body)
	}
	l := logs.String()
	if !strings.Contains(l, "pq: password authentication failed") || !strings.Contains(l, `"request_id":"req-42"`) || !strings.Contains(l, `"level":"ERROR"`) {
		t.Fatalf("cause not logged with request id at error level: %s", l)
	}
}

func TestInternalDetailNeverLeaks(t *testing.T) {
	e, _ := newPlumbing(t, slog.LevelInfo, authz.Options{})
	e.GET("/x", func(echo.Context) error {
		return authz.NewProblem(authz.CodeInternal, "dial tcp 10.0.0.7:5432: refused")
	})
	rec := serve(t, e, http.MethodGet, "/x", nil)
	readProblem(t, rec, 500, authz.CodeInternal)
	if strings.Contains(rec.Body.String(), "10.0.0.7") {
		t.Fatalf("detail of a 500 leaked: %s", rec.Body)
	}
}

func TestFourHundredsAreNotLoggedAtInfo(t *testing.T) {
	e, logs := newPlumbing(t, slog.LevelInfo, authz.Options{})
	e.GET("/x", func(echo.Context) error { return authz.NotFound("app") })
	serve(t, e, http.MethodGet, "/x", nil)
	if l := logs.String(); l != "" {
		t.Fatalf("a 404 was logged at info: %s", l)
	}
}

func TestHeadProblemHasNoBody(t *testing.T) {
	e, _ := newPlumbing(t, slog.LevelInfo, authz.Options{})
	e.HEAD("/x", func(echo.Context) error { return authz.NotFound("") })
	rec := serve(t, e, http.MethodHead, "/x", nil)
	if rec.Code != 404 || rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != authz.ProblemContentType {
		t.Fatalf("HEAD = %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
}

func TestProblemUnwrapsCause(t *testing.T) {
	sentinel := errors.New("sentinel")
	p := authz.Unavailable(time.Second, fmt.Errorf("wrapped: %w", sentinel))
	if !errors.Is(p, sentinel) {
		t.Fatal("errors.Is does not see the cause")
	}
	if !strings.Contains(p.Error(), "sentinel") || !strings.HasPrefix(p.Error(), authz.CodeUnavailable) {
		t.Fatalf("Error() = %q", p.Error())
	}
	q := authz.Conflict("x")
	if r := q.WithCause(sentinel); r == q || q.Unwrap() != nil {
		t.Fatal("WithCause changed its receiver")
	}
}

func TestStatusOfEveryCode(t *testing.T) {
	want := map[string]int{
		authz.CodeValidation: 400, authz.CodeUnauthorized: 401, authz.CodeInsufficientScope: 403,
		authz.CodeForbidden: 403, authz.CodeNotFound: 404, authz.CodeMethodNotAllowed: 405,
		authz.CodeConflict: 409, authz.CodePreconditionFailed: 412, authz.CodePayloadTooLarge: 413,
		authz.CodeUnsupportedMediaType: 415, authz.CodeIdempotencyKeyReused: 422,
		authz.CodeRateLimited: 429, authz.CodeInternal: 500, authz.CodeUnavailable: 503,
		"no_such_code": 500,
	}
	for code, status := range want {
		if got := authz.Status(code); got != status {
			t.Errorf("Status(%s) = %d, want %d", code, got, status)
		}
		if p := authz.NewProblem(code, "d"); p.Status != status {
			t.Errorf("NewProblem(%s).Status = %d, want %d", code, p.Status, status)
		}
	}
}
