package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/labstack/echo/v4"
)

// BindJSON decodes the request body of c, one JSON value, into v (a
// pointer). A request with no body at all (Content-Length 0 and no
// Content-Type) is taken as {}: every field absent, so an endpoint whose
// fields are all optional needs no body, and one with a required field
// answers 400 naming it. Otherwise it answers, as a *Problem:
//
//   - 415 unsupported_media_type when Content-Type is not application/json
//     (or another application/*+json type);
//   - 413 payload_too_large when the body exceeds the server's limit;
//   - 400 validation_error for an empty or malformed body, data after the
//     value, a field this endpoint does not know (API.md: unknown fields
//     are rejected) or a value of the wrong JSON type, naming the field in
//     errors[] where it can;
//   - 400 validation_error for what the input hygiene rules refuse
//     (bind_hygiene.go): invalid UTF-8, duplicate keys, field names not
//     spelled exactly, control and format characters, too many items,
//     too deep a document.
//
// A *Problem returned by a field's UnmarshalJSON passes through as is.
func BindJSON(c echo.Context, v any) error {
	r := c.Request()
	ct := r.Header.Get(echo.HeaderContentType)
	if ct == "" && r.ContentLength == 0 {
		return DecodeJSON(noBody, v)
	}
	if err := checkJSONContentType(ct); err != nil {
		return err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return decodeProblem(err)
	}
	return DecodeJSON(body, v)
}

// noBody is what BindJSON decodes for a request without a body.
var noBody = []byte("{}")

// DecodeJSON is BindJSON once the body is read.
func DecodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeProblem(err)
	}
	if err := checkEOF(dec); err != nil {
		return err
	}
	return checkHygiene(body, reflect.TypeOf(v))
}

// checkJSONContentType admits application/json and application/*+json,
// with any parameters.
func checkJSONContentType(ct string) error {
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == echo.MIMEApplicationJSON || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return nil
	}
	if ct == "" {
		return UnsupportedMediaType("the request needs Content-Type: application/json")
	}
	return UnsupportedMediaType(fmt.Sprintf("Content-Type %q is not supported: send application/json", ct))
}

// checkEOF fails unless the body ends after its JSON value (whitespace
// aside).
func checkEOF(dec *json.Decoder) error {
	_, err := dec.Token()
	if err == io.EOF {
		return nil
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return PayloadTooLarge(mbe.Limit)
	}
	return BadRequest("the request body holds data after its JSON value")
}

// decodeProblem maps a json.Decoder error to the problem for the caller.
func decodeProblem(err error) error {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		ute *json.UnmarshalTypeError
		iue *json.InvalidUnmarshalError
		p   *Problem
	)
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &iue):
		return err // a programming error: 500
	case errors.As(err, &mbe):
		return PayloadTooLarge(mbe.Limit)
	case errors.Is(err, io.EOF):
		return BadRequest("the request body is empty: send a JSON value")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return BadRequest("the request body is not valid JSON: it ends too early")
	case errors.As(err, &se):
		return BadRequest(fmt.Sprintf("the request body is not valid JSON: the error is at byte %d", se.Offset))
	case errors.As(err, &ute):
		return typeProblem(ute)
	}
	if name, ok := unknownField(err); ok {
		return Validation(FieldError{Field: name, Message: "is not a known field"})
	}
	return BadRequest("the request body is not a JSON document of the expected shape") // the decoder's own words stay out of answers
}

// unknownField extracts the field name from the error DisallowUnknownFields
// produces (encoding/json has no typed error for it).
func unknownField(err error) (string, bool) {
	const prefix = `json: unknown field "`
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) || !strings.HasSuffix(msg, `"`) {
		return "", false
	}
	return strings.TrimSuffix(strings.TrimPrefix(msg, prefix), `"`), true
}

// typeProblem reports a JSON value of the wrong type.
func typeProblem(ute *json.UnmarshalTypeError) error {
	msg := "must be " + jsonKind(ute.Type)
	if ute.Field == "" {
		return BadRequest("the request body " + msg)
	}
	return Validation(FieldError{Field: ute.Field, Message: msg})
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "an array"
	}
	return "an object"
}
