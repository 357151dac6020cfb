package graphql

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// TestEncodeResponseIsEncodingJSON: the response written without encoding
// the data again is, byte for byte, what encoding/json's encoder (echo's
// c.JSON) made of it: compacted, HTML-safe, errors and extensions in
// place.
func TestEncodeResponseIsEncodingJSON(t *testing.T) {
	for _, r := range []*graphql.Response{
		{Data: json.RawMessage(`{"apps":{"nodes":[{"id":"app-1","name":"a b","metadata":{ "x" : [1, 2] ,"y":"\"<b>\" & \\ \u2028 \u2029 é"}}]}}`)},
		{Data: json.RawMessage(`{"s":"tab\tnew\nline \\\"quoted\\\" <>&"}`)},
		{Data: json.RawMessage("{\n  \"pretty\": [ true , null ]\n}")},
		{Errors: gqlerror.List{{Message: "a <b> & c", Path: ast.Path{ast.PathName("apps"), ast.PathIndex(3)}, Extensions: map[string]any{"code": "insufficient_scope", "status": 403}}},
			Data: json.RawMessage(`{"apps":null}`)},
		{Errors: gqlerror.List{codedError("validation_error", "bad")}},
		{Data: json.RawMessage(`{}`), Extensions: map[string]any{"cost": 3, "html": "<&>"}},
		{},
	} {
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(r); err != nil {
			t.Fatal(err)
		}
		got, err := encodeResponse(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("encodeResponse:\n got %s\nwant %s", got, want.Bytes())
		}
	}
}

// TestAsksRetry: which 200 answers release an Idempotency-Key on the
// POST (a retryable error, no mutation taken effect) and which hold it.
func TestAsksRetry(t *testing.T) {
	limited := &gqlerror.Error{Message: "slow down", Path: ast.Path{ast.PathName("b")}, Extensions: map[string]any{"code": "rate_limited", "status": 429}}
	invalid := &gqlerror.Error{Message: "bad", Path: ast.Path{ast.PathName("a")}, Extensions: map[string]any{"code": "validation_error", "status": 400}}
	for _, c := range []struct {
		name     string
		mutation bool
		r        *graphql.Response
		want     bool
	}{
		{"query with a 429 field", false, &graphql.Response{Errors: gqlerror.List{limited}, Data: json.RawMessage(`{"a":{"id":"x"},"b":null}`)}, true},
		{"mutation all failed, one 429", true, &graphql.Response{Errors: gqlerror.List{invalid, limited}, Data: json.RawMessage(`{"a":null,"b":null}`)}, true},
		{"mutation one done, one 429", true, &graphql.Response{Errors: gqlerror.List{limited}, Data: json.RawMessage(`{"a":{"id":"x"},"b":null}`)}, false},
		{"mutation refused", true, &graphql.Response{Errors: gqlerror.List{invalid}, Data: json.RawMessage(`{"a":null}`)}, false},
		{"transport internal, no data", false, &graphql.Response{Errors: gqlerror.List{codedError("internal", "internal error")}}, true},
		{"success", true, &graphql.Response{Data: json.RawMessage(`{"a":{"id":"x"}}`)}, false},
	} {
		if got := asksRetry(c.mutation, c.r); got != c.want {
			t.Errorf("%s: asksRetry %v, want %v", c.name, got, c.want)
		}
	}
}
