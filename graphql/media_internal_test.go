package graphql

import (
	"net/http"
	"testing"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// TestResponseType: the negotiation of the answer's media type (RFC 9110
// §12.5.1, GraphQL over HTTP "Accept").
func TestResponseType(t *testing.T) {
	for accept, want := range map[string]string{
		"":                                  mediaJSON,
		"*/*":                               mediaJSON,
		"application/*":                     mediaJSON,
		"application/json":                  mediaJSON,
		"text/html, image/png":              mediaJSON,
		"application/graphql-response+json": mediaGraphQLResponse,
		"Application/GraphQL-Response+JSON": mediaGraphQLResponse,
		"application/graphql-response+json, application/json;q=0.9":         mediaGraphQLResponse,
		"application/json, application/graphql-response+json":               mediaGraphQLResponse,
		"application/json;q=1, application/graphql-response+json;q=0.8":     mediaJSON,
		"application/graphql-response+json;q=0, */*":                        mediaJSON,
		"application/graphql-response+json;q=0.5, */*;q=0.1":                mediaGraphQLResponse,
		"application/graphql-response+json;q=0.5, application/*":            mediaJSON,
		"application/graphql-response+json ; charset=utf-8":                 mediaGraphQLResponse,
		"application/graphql-response+json;q=bogus, application/json;q=0.9": mediaGraphQLResponse,
	} {
		if got := responseType(accept); got != want {
			t.Errorf("Accept %q: %s, want %s", accept, got, want)
		}
	}
}

// TestRequestStatus: a request error's status in
// application/graphql-response+json: its code's, the lowest 4xx first.
func TestRequestStatus(t *testing.T) {
	internal, invalid, scope := codedError("internal", "x"), codedError("validation_error", "x"), codedError("insufficient_scope", "x")
	for _, c := range []struct {
		errs gqlerror.List
		want int
	}{
		{gqlerror.List{invalid}, http.StatusBadRequest},
		{gqlerror.List{internal}, http.StatusInternalServerError},
		{gqlerror.List{internal, scope}, http.StatusForbidden},
		{gqlerror.List{scope, invalid}, http.StatusBadRequest},
		{gqlerror.List{{Message: "no code"}}, http.StatusInternalServerError},
		{nil, http.StatusInternalServerError},
	} {
		if got := requestStatus(c.errs); got != c.want {
			t.Errorf("%v: %d, want %d", c.errs, got, c.want)
		}
	}
}
