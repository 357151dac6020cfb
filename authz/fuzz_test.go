package authz

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/projections"
)

// Fuzz targets of every parser of outside input in this package (issue 12,
// point 10). `go test` runs their seeds; `make fuzz` explores.

// bindSeeds are request bodies of the tests and of README examples.
var bindSeeds = []string{
	`{"name":"a","n":2,"tags":["t"],"inner":{"x":3},"meta":{"k":1}}`,
	`{"name":"Billing sync","requested_scopes":["webhooks:read"],"token_endpoint_auth_method":"client_secret_post","metadata":{"team":"billing"}}`,
	`{"name":"coded","grant_types":["authorization_code"],"redirect_uris":["https://app.example.com/cb"]}`,
	`{"url":"https://hooks.example.com/x","events":["case.updated"],"description":"line 1\nline 2"}`,
	`{"type":"case.updated","data":{"id":"c1","nested":{"a":[1,2,{"b":null}]}},"id":"dedupe-1"}`,
	`{"scope":"cases:read","decision":"approve","reason":"reviewed"}`,
	`{"name":"a","name":"b"}`, `{"Name":"a"}`, `{"metadata":{"k":1,"k":2}}`, `{"name":"a\u0000b"}`,
	`{"name":"evil\u202egnp"}`, `{"name":"a\ud800"}`, "{\"name\":\"a\xffb\"}", `{"description":"a\r\nb"}`,
	`{"redirect_uris":["https://a/1","https://a/2"]}`, `{"metadata":[[[[[[[[[[]]]]]]]]]]}`, `{"name":"x"} {}`, `[1]`, ``,
}

// bindTargets are request types of the API, one of each kind of field.
func bindTargets() []any {
	return []any{&createAppRequest{}, &patchAppRequest{}, &webhookRequest{}, &publishRequest{}, &scopeDecisionBody{}, &scopeRequest{}}
}

// FuzzBindJSON: httpapi.DecodeJSON never panics, refuses with a 400 problem, and
// what it accepts is valid UTF-8 JSON without a duplicate key, whose
// interpreted strings hold no control or format character, and which
// encodes back to a body it accepts again as the same value.
func FuzzBindJSON(f *testing.F) {
	for _, s := range bindSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range bindTargets() {
			err := httpapi.DecodeJSON(body, v)
			if err != nil {
				var p *httpapi.Problem
				if !errors.As(err, &p) || p.Status != http.StatusBadRequest {
					t.Fatalf("%T: %q: error %v, want a 400 problem", v, body, err)
				}
				continue
			}
			if !utf8.Valid(body) || !json.Valid(body) {
				t.Fatalf("%T accepted invalid UTF-8 or JSON: %q", v, body)
			}
			if duplicateKeys(t, body) {
				t.Fatalf("%T accepted a duplicate key: %q", v, body)
			}
			checkInterpretedText(t, reflect.ValueOf(v).Elem(), body)
			enc, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%T: re-encode: %v", v, err)
			}
			again := reflect.New(reflect.TypeOf(v).Elem()).Interface()
			if err := httpapi.DecodeJSON(enc, again); err != nil {
				t.Fatalf("%T: %q accepted, its re-encoding %s refused: %v", v, body, enc, err)
			}
			if enc2, _ := json.Marshal(again); !bytes.Equal(enc, enc2) {
				t.Fatalf("%T: round trip changed %s into %s", v, enc, enc2)
			}
		}
	})
}

// duplicateKeys reports whether an object of the (valid) JSON document
// has a key twice: the keys the token stream shows outnumber those the
// decoded maps hold.
func duplicateKeys(t *testing.T, body []byte) bool {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var stack []bool // object?
	var expectKey []bool
	keys := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		top := len(stack) - 1
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if top >= 0 && stack[top] {
					expectKey[top] = true
				}
				stack, expectKey = append(stack, d == '{'), append(expectKey, true)
			default:
				stack, expectKey = stack[:top], expectKey[:top]
			}
			continue
		}
		if top >= 0 && stack[top] {
			if expectKey[top] {
				keys++
			}
			expectKey[top] = !expectKey[top]
		}
	}
	return keys != countKeys(v)
}

func countKeys(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		n += len(v)
		for _, x := range v {
			n += countKeys(x)
		}
	case []any:
		for _, x := range v {
			n += countKeys(x)
		}
	}
	return n
}

// checkInterpretedText fails when a string field of v (a request struct)
// holds a control or format character that its rule forbids.
func checkInterpretedText(t *testing.T, v reflect.Value, body []byte) {
	st := v.Type()
	for i := range st.NumField() {
		fv, multi := v.Field(i), st.Field(i).Tag.Get("text") == "multiline"
		for fv.Kind() == reflect.Pointer && !fv.IsNil() {
			fv = fv.Elem()
		}
		var strs []string
		switch {
		case fv.Kind() == reflect.String:
			strs = []string{fv.String()}
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
			strs = fv.Interface().([]string)
		}
		for _, s := range strs {
			for _, r := range s {
				if multi && (r == '\n' || r == '\t') {
					continue
				}
				if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
					t.Fatalf("%s accepted with %U in %s", body, r, st.Field(i).Name)
				}
			}
		}
	}
}

// fuzzIssuer is the issuer of the tokens of the fuzz targets.
// FuzzCatalogCursor: a catalog cursor is accepted only when it is one the
// list could have returned, and decodes to the position it encodes.
func FuzzCatalogCursor(f *testing.F) {
	for _, s := range []string{"", catalogCursor("b0"), catalogCursor("b8"), catalogCursor("t" + projections.EncodeCursor("s", "id")), catalogCursor("b-1"), catalogCursor("b01"), "!!", catalogCursor("x")} {
		f.Add(s, 9)
	}
	f.Fuzz(func(t *testing.T, cursor string, builtins int) {
		if builtins < 0 || builtins > 1000 {
			return
		}
		start, after, ok := parseCatalogCursor(cursor, builtins)
		if !ok {
			return
		}
		switch {
		case cursor == "":
			if start != 0 || after != "" {
				t.Fatalf("empty cursor: %d %q", start, after)
			}
		case start < builtins:
			if after != "" || parseAgain(t, catalogCursor("b"+strconv.Itoa(start)), builtins) != start {
				t.Fatalf("%q: start %d of %d", cursor, start, builtins)
			}
		case start == builtins:
			if s, a, ok := parseCatalogCursor(catalogCursor("t"+after), builtins); !ok || s != builtins || a != after {
				t.Fatalf("%q: tenant cursor %q does not round-trip", cursor, after)
			}
		default:
			t.Fatalf("%q: start %d beyond %d built-ins", cursor, start, builtins)
		}
	})
}

func parseAgain(t *testing.T, c string, builtins int) int {
	s, _, ok := parseCatalogCursor(c, builtins)
	if !ok {
		t.Fatalf("%q refused", c)
	}
	return s
}

// FuzzFeedQuery: the event feed's query (after, limit, type) never panics
// and what it accepts is within its bounds.
func FuzzFeedQuery(f *testing.F) {
	for _, s := range []string{"", "after=0&limit=50", "after=18446744073709551615", "after=-1", "limit=501", "limit=0", "type=app.*", "type=app.created,app.deleted", "type=%00", "after=1&after=2", "limit=1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, fe := parseFeedQuery(v)
		if len(fe) > 0 {
			for _, e := range fe {
				if e.Field == "" || e.Message == "" {
					t.Fatalf("%q: field error %+v", raw, e)
				}
			}
			return
		}
		if q.limit < 1 || q.limit > 500 {
			t.Fatalf("%q: limit %d", raw, q.limit)
		}
	})
}

// FuzzHeaders: If-Match, Idempotency-Key and X-Request-Id, as a client
// may send them.
func FuzzHeaders(f *testing.F) {
	for _, s := range []string{"", "*", `"1"`, `W/"1"`, `"2"`, ` "1" `, `"18446744073709551616"`, `"-1"`, "1", `""`, "key-1", strings.Repeat("k", 256), "k\x00", "ключ"} {
		f.Add(s, uint64(1))
	}
	e := echo.New()
	idem := (&Idempotency{}).Middleware(func(echo.Context) error { return nil })
	f.Fuzz(func(t *testing.T, h string, current uint64) {
		if current == 0 {
			return // versions start at 1
		}
		req := httptest.NewRequest(http.MethodPatch, "/x", io.NopCloser(strings.NewReader("{}")))
		req.Header.Set("If-Match", h)
		c := e.NewContext(req, httptest.NewRecorder())
		v, err := ifMatch(c, current)
		trimmed := strings.TrimSpace(h)
		switch {
		case err != nil:
			var p *httpapi.Problem
			if !errors.As(err, &p) || p.Status != http.StatusPreconditionFailed {
				t.Fatalf("If-Match %q: %v", h, err)
			}
		case v == 0:
			if trimmed != "" && trimmed != "*" {
				t.Fatalf("If-Match %q passed unconditionally", h)
			}
		case v != current:
			t.Fatalf("If-Match %q matched %d, current %d", h, v, current)
		}

		valid := len(h) >= 1 && len(h) <= 255
		for i := 0; i < len(h); i++ {
			valid = valid && h[i] >= 0x20 && h[i] <= 0x7e
		}
		if valid || h == "" {
			return // a valid key reaches the log, which this target has not
		}
		req.Header.Set("Idempotency-Key", h)
		c = e.NewContext(req, httptest.NewRecorder())
		var p *httpapi.Problem
		if err := idem(c); !errors.As(err, &p) || p.Status != http.StatusBadRequest || p.Errors[0].Field != "Idempotency-Key" {
			t.Fatalf("Idempotency-Key %q: %v", h, err)
		}
		if httpapi.ValidRequestID(h) {
			t.Fatalf("X-Request-Id %q accepted", h)
		}
	})
}
