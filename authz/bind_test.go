package authz_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/authz"
)

type bindInner struct {
	X int `json:"x"`
}

type bindTarget struct {
	Name  string             `json:"name"`
	N     int                `json:"n"`
	Tags  []string           `json:"tags"`
	Inner bindInner          `json:"inner"`
	Meta  json.RawMessage    `json:"meta"`
	Odd   *problemAtUnmarsal `json:"odd,omitempty"`
}

// problemAtUnmarsal fails its decoding with a *Problem.
type problemAtUnmarsal struct{}

func (*problemAtUnmarsal) UnmarshalJSON([]byte) error {
	return authz.Validation(authz.FieldError{Field: "odd", Message: "is odd"})
}

func bindServer(t *testing.T) *echo.Echo {
	t.Helper()
	e, _ := newPlumbing(t, slog.LevelInfo, authz.Options{})
	e.POST("/bind", func(c echo.Context) error {
		var v bindTarget
		if err := authz.BindJSON(c, &v); err != nil {
			return err
		}
		return c.JSON(200, v)
	})
	e.POST("/bind-nil", func(c echo.Context) error { return authz.BindJSON(c, nil) })
	return e
}

func TestBindJSONAccepts(t *testing.T) {
	e := bindServer(t)
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"} {
		rec := serve(t, e, http.MethodPost, "/bind", strings.NewReader(`{"name":"a","n":2,"tags":["t"],"inner":{"x":3},"meta":{"k":1}}`+"\n\t "), "Content-Type", ct)
		if rec.Code != 200 {
			t.Fatalf("Content-Type %q: %d %s", ct, rec.Code, rec.Body)
		}
		var v bindTarget
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v.Name != "a" || v.N != 2 || v.Inner.X != 3 || string(v.Meta) != `{"k":1}` {
			t.Fatalf("decoded %+v, %v", v, err)
		}
	}
}

func TestBindJSONRejects(t *testing.T) {
	cases := []struct {
		name, ct, body string
		status         int
		code           string
		field          string // errors[0].field, "" for none
		detail         string // a part of the detail
	}{
		{"no content type", "", `{}`, 415, authz.CodeUnsupportedMediaType, "", "application/json"},
		{"form", "application/x-www-form-urlencoded", `a=b`, 415, authz.CodeUnsupportedMediaType, "", "x-www-form-urlencoded"},
		{"text", "text/plain", `{}`, 415, authz.CodeUnsupportedMediaType, "", "text/plain"},
		{"bad media type", "application/", `{}`, 415, authz.CodeUnsupportedMediaType, "", ""},
		{"unknown field", "application/json", `{"name":"a","color":"red"}`, 400, authz.CodeValidation, "color", ""},
		{"unknown nested field", "application/json", `{"inner":{"y":1}}`, 400, authz.CodeValidation, "y", ""},
		{"trailing value", "application/json", `{"name":"a"}{"name":"b"}`, 400, authz.CodeValidation, "", "after its JSON value"},
		{"trailing garbage", "application/json", `{"name":"a"} x`, 400, authz.CodeValidation, "", "after its JSON value"},
		{"malformed", "application/json", `{"name":}`, 400, authz.CodeValidation, "", "not valid JSON"},
		{"truncated", "application/json", `{"name":"a"`, 400, authz.CodeValidation, "", "ends too early"},
		{"empty", "application/json", ``, 400, authz.CodeValidation, "", "empty"},
		{"wrong type", "application/json", `{"n":"two"}`, 400, authz.CodeValidation, "n", ""},
		{"wrong nested type", "application/json", `{"inner":{"x":"3"}}`, 400, authz.CodeValidation, "inner.x", ""},
		{"wrong array type", "application/json", `{"tags":"t"}`, 400, authz.CodeValidation, "tags", ""},
		{"top level array", "application/json", `[1]`, 400, authz.CodeValidation, "", "must be an object"},
		{"problem from a field", "application/json", `{"odd":1}`, 400, authz.CodeValidation, "odd", ""},
	}
	e := bindServer(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.ct != "" {
				hdr = []string{"Content-Type", tc.ct}
			}
			p := readProblem(t, serve(t, e, http.MethodPost, "/bind", strings.NewReader(tc.body), hdr...), tc.status, tc.code)
			if tc.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tc.field || p.Errors[0].Message == "") {
				t.Fatalf("errors = %+v, want one naming %q", p.Errors, tc.field)
			}
			if tc.field == "" && len(p.Errors) != 0 {
				t.Fatalf("errors = %+v, want none", p.Errors)
			}
			if !strings.Contains(p.Detail, tc.detail) {
				t.Fatalf("detail %q lacks %q", p.Detail, tc.detail)
			}
		})
	}
}

func TestBindJSONIntoNilIsInternal(t *testing.T) {
	rec := serve(t, bindServer(t), http.MethodPost, "/bind-nil", strings.NewReader(`{}`), "Content-Type", "application/json")
	readProblem(t, rec, 500, authz.CodeInternal)
}
