package httpapi_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/httpapi"
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
	Desc  string             `json:"desc" text:"multiline"`
	PEM   string             `json:"pem" text:"pem"`
	Few   []string           `json:"few" maxItems:"2"`
	Any   map[string]any     `json:"any"`
}

// problemAtUnmarsal fails its decoding with a *Problem.
type problemAtUnmarsal struct{}

func (*problemAtUnmarsal) UnmarshalJSON([]byte) error {
	return httpapi.Validation(httpapi.FieldError{Field: "odd", Message: "is odd"})
}

func bindServer(t *testing.T) *echo.Echo {
	t.Helper()
	e, _ := newPlumbing(t, slog.LevelInfo, httpapi.Options{})
	e.POST("/bind", func(c echo.Context) error {
		var v bindTarget
		if err := httpapi.BindJSON(c, &v); err != nil {
			return err
		}
		return c.JSON(200, v)
	})
	e.POST("/bind-nil", func(c echo.Context) error { return httpapi.BindJSON(c, nil) })
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

// TestBindJSONNoBody: a request with no body and no Content-Type binds as
// {} (every field absent); a body without a Content-Type, or none with
// application/json, is still refused.
func TestBindJSONNoBody(t *testing.T) {
	e := bindServer(t)
	rec := serve(t, e, http.MethodPost, "/bind", nil)
	var v bindTarget
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &v) != nil || v.Name != "" || v.N != 0 || v.Tags != nil {
		t.Fatalf("no body: %d %s, want 200 and every field absent", rec.Code, rec.Body)
	}
	readProblem(t, serve(t, e, http.MethodPost, "/bind", strings.NewReader(`{"name":"a"}`)), 415, httpapi.CodeUnsupportedMediaType)
	readProblem(t, serve(t, e, http.MethodPost, "/bind", nil, "Content-Type", "text/plain"), 415, httpapi.CodeUnsupportedMediaType)
	readProblem(t, serve(t, e, http.MethodPost, "/bind", nil, "Content-Type", "application/json"), 400, httpapi.CodeValidation)
}

func TestBindJSONRejects(t *testing.T) {
	cases := []struct {
		name, ct, body string
		status         int
		code           string
		field          string // errors[0].field, "" for none
		detail         string // a part of the detail
	}{
		{"no content type", "", `{}`, 415, httpapi.CodeUnsupportedMediaType, "", "application/json"},
		{"form", "application/x-www-form-urlencoded", `a=b`, 415, httpapi.CodeUnsupportedMediaType, "", "x-www-form-urlencoded"},
		{"text", "text/plain", `{}`, 415, httpapi.CodeUnsupportedMediaType, "", "text/plain"},
		{"bad media type", "application/", `{}`, 415, httpapi.CodeUnsupportedMediaType, "", ""},
		{"unknown field", "application/json", `{"name":"a","color":"red"}`, 400, httpapi.CodeValidation, "color", ""},
		{"unknown nested field", "application/json", `{"inner":{"y":1}}`, 400, httpapi.CodeValidation, "y", ""},
		{"trailing value", "application/json", `{"name":"a"}{"name":"b"}`, 400, httpapi.CodeValidation, "", "after its JSON value"},
		{"trailing garbage", "application/json", `{"name":"a"} x`, 400, httpapi.CodeValidation, "", "after its JSON value"},
		{"malformed", "application/json", `{"name":}`, 400, httpapi.CodeValidation, "", "not valid JSON"},
		{"truncated", "application/json", `{"name":"a"`, 400, httpapi.CodeValidation, "", "ends too early"},
		{"empty", "application/json", ``, 400, httpapi.CodeValidation, "", "empty"},
		{"wrong type", "application/json", `{"n":"two"}`, 400, httpapi.CodeValidation, "n", ""},
		{"wrong nested type", "application/json", `{"inner":{"x":"3"}}`, 400, httpapi.CodeValidation, "inner.x", ""},
		{"wrong array type", "application/json", `{"tags":"t"}`, 400, httpapi.CodeValidation, "tags", ""},
		{"top level array", "application/json", `[1]`, 400, httpapi.CodeValidation, "", "must be an object"},
		{"problem from a field", "application/json", `{"odd":1}`, 400, httpapi.CodeValidation, "odd", ""},
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
	readProblem(t, rec, 500, httpapi.CodeInternal)
}

// TestBindJSONHygiene holds the input hygiene rules of every JSON body
// (bind_hygiene.go): each case is refused with 400 validation_error
// naming the field.
func TestBindJSONHygiene(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	many := `["` + strings.Repeat(`x","`, 100) + `x"]`
	cases := []struct {
		name, body, field string
	}{
		{"duplicate key", `{"name":"a","name":"b"}`, "name"},
		{"duplicate nested key", `{"inner":{"x":1,"x":2}}`, "inner.x"},
		{"key of another case", `{"Name":"a"}`, "Name"},
		{"keys differing in case", `{"name":"a","NAME":"b"}`, "NAME"},
		{"duplicate key in free-form", `{"meta":{"k":1,"k":2}}`, "meta.k"},
		{"duplicate key deep in free-form", `{"meta":{"a":[{"x":1},{"y":1,"y":1}]}}`, "meta.a[1].y"},
		{"duplicate key in a map", `{"any":{"k":1,"k":1}}`, "any.k"},
		{"NUL", `{"name":"a\u0000b"}`, "name"},
		{"CR", `{"name":"a\rb"}`, "name"},
		{"LF in a name", `{"name":"a\nb"}`, "name"},
		{"TAB in a name", `{"name":"a\tb"}`, "name"},
		{"DEL", `{"name":"a\u007fb"}`, "name"},
		{"C1 control", `{"name":"a\u0085b"}`, "name"},
		{"bidi override", `{"name":"evil\u202egnp.exe"}`, "name"},
		{"bidi override raw", "{\"name\":\"evil\u202egnp.exe\"}", "name"},
		{"bidi isolate", `{"name":"a\u2066b"}`, "name"},
		{"zero-width space", `{"name":"ad\u200bmin"}`, "name"},
		{"zero-width joiner", `{"name":"a\u200db"}`, "name"},
		{"BOM", `{"name":"\ufeffa"}`, "name"},
		{"line separator", `{"name":"a\u2028b"}`, "name"},
		{"control in an array item", `{"tags":["ok","a\u0000"]}`, "tags[1]"},
		{"CR in multiline text", `{"desc":"a\r\nb"}`, "desc"},
		{"bidi in multiline text", `{"desc":"a\u202eb"}`, "desc"},
		{"lone CR in PEM text", `{"pem":"a\rb"}`, "pem"},
		{"CR at the end of PEM text", `{"pem":"a\r"}`, "pem"},
		{"NUL in PEM text", `{"pem":"a\u0000\r\nb"}`, "pem"},
		{"control in a free-form key", `{"meta":{"a\u0000":1}}`, "meta"},
		{"format character in a map key", `{"any":{"a\u200bb":1}}`, "any"},
		{"invalid UTF-8", "{\"name\":\"a\xffb\"}", "name"},
		{"invalid UTF-8 in free-form", "{\"meta\":{\"k\":\"\xc3\"}}", "meta.k"},
		{"lone high surrogate", `{"name":"a\ud800b"}`, "name"},
		{"lone low surrogate", `{"meta":{"k":"\udc00"}}`, "meta.k"},
		{"too many items", `{"few":["a","b","c"]}`, "few"},
		{"too many items by default", `{"tags":` + many + `}`, "tags"},
		{"too deep", `{"meta":` + deep + `}`, "meta" + strings.Repeat(".a", 31)},
	}
	e := bindServer(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := readProblem(t, serve(t, e, http.MethodPost, "/bind", strings.NewReader(tc.body), "Content-Type", "application/json"), 400, httpapi.CodeValidation)
			if len(p.Errors) != 1 || p.Errors[0].Field != tc.field || p.Errors[0].Message == "" {
				t.Fatalf("errors = %+v, want one naming %q", p.Errors, tc.field)
			}
		})
	}
}

// TestBindJSONHygieneAccepts: what the rules leave alone.
func TestBindJSONHygieneAccepts(t *testing.T) {
	cases := []struct{ name, body string }{
		{"LF and TAB in multiline text", `{"desc":"line 1\n\tline 2"}`},
		{"CRLF in PEM text", `{"pem":"-----BEGIN X-----\r\nAAAA\r\n-----END X-----\r\n"}`},
		{"non-ASCII text", `{"name":"Zoë — café 日本 😀","desc":"é"}`},
		{"surrogate pair", `{"name":"\ud83d\ude00"}`},
		{"escaped backslash before u", `{"name":"a\\ud800"}`},
		{"keys differing in case in free-form", `{"meta":{"Team":1,"team":2}}`},
		{"controls in free-form values", `{"meta":{"k":"a\u0000\u202e"}}`},
		{"the same key in sibling objects", `{"meta":{"a":{"k":1},"b":{"k":1}},"inner":{"x":1}}`},
		{"items up to the cap", `{"few":["a","b"]}`},
		{"deep within the cap", `{"meta":` + strings.Repeat(`[`, 30) + strings.Repeat(`]`, 30) + `}`},
	}
	e := bindServer(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if rec := serve(t, e, http.MethodPost, "/bind", strings.NewReader(tc.body), "Content-Type", "application/json"); rec.Code != 200 {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
		})
	}
}
