package e2e

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"testing"
)

// TestGraphQLResponseMediaType: GraphQL over HTTP through the real
// binary. With Accept: application/graphql-response+json a request error
// (the operation never ran) is answered in that media type with the
// status of its code and no data member: 403 for a free-form document
// without graphql:adhoc, 404 for an unknown approved operation, 400 for a
// document that does not parse, by POST and by GET. With the default,
// application/json, the same request error stays a 200, still without
// data; an operation that ran is a 200 with data in both.
func TestGraphQLResponseMediaType(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	bare := a.as(appToken(t, a, "gql-media"))
	const gqlType = "application/graphql-response+json"
	get := func(q url.Values) string { return "/v1/graphql?" + q.Encode() }
	scopes := `{ scopes { nodes { name } } }`
	for _, tc := range []struct {
		name   string
		r      reply
		status int
		code   string
	}{
		{"POST free-form without graphql:adhoc", bare.call(http.MethodPost, "/v1/graphql", map[string]any{"query": scopes}, "Accept", gqlType), http.StatusForbidden, "insufficient_scope"},
		{"GET free-form without graphql:adhoc", bare.call(http.MethodGet, get(url.Values{"query": {scopes}}), nil, "Accept", gqlType), http.StatusForbidden, "insufficient_scope"},
		{"POST unknown operation", a.call(http.MethodPost, "/v1/graphql", map[string]any{"id": "gqo_missing"}, "Accept", gqlType), http.StatusNotFound, "not_found"},
		{"GET unknown operation", a.call(http.MethodGet, get(url.Values{"id": {"gqo_missing"}}), nil, "Accept", gqlType), http.StatusNotFound, "not_found"},
		{"POST parse error", a.call(http.MethodPost, "/v1/graphql", map[string]any{"query": "{ scopes {"}, "Accept", gqlType), http.StatusBadRequest, "validation_error"},
		{"POST free-form without graphql:adhoc, application/json", bare.call(http.MethodPost, "/v1/graphql", map[string]any{"query": scopes}, "Accept", "application/json"), http.StatusOK, "insufficient_scope"},
	} {
		want := gqlType
		if tc.status == http.StatusOK {
			want = "application/json"
		}
		if tc.r.Status != tc.status || mediaType(tc.r) != want {
			t.Errorf("%s: %d %q, want %d %q: %s", tc.name, tc.r.Status, tc.r.Header.Get("Content-Type"), tc.status, want, tc.r)
			continue
		}
		var body map[string]json.RawMessage
		if err := json.Unmarshal(tc.r.Body, &body); err != nil {
			t.Errorf("%s: %v: %s", tc.name, err, tc.r)
			continue
		}
		var errs []gqlError
		_ = json.Unmarshal(body["errors"], &errs)
		if _, has := body["data"]; has || len(errs) == 0 || errs[0].Extensions["code"] != tc.code {
			t.Errorf("%s: want errors[0].extensions.code %s and no data: %s", tc.name, tc.code, tc.r)
		}
	}
	ran := a.call(http.MethodPost, "/v1/graphql", map[string]any{"query": scopes}, "Accept", gqlType)
	if ran.Status != http.StatusOK || mediaType(ran) != gqlType || !json.Valid(ran.Body) {
		t.Fatalf("an operation that ran, in %s: %s", gqlType, ran)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(ran.Body, &body); err != nil || body["data"] == nil {
		t.Fatalf("an operation that ran has no data: %v %s", err, ran)
	}
}

// mediaType is r's Content-Type without its parameters.
func mediaType(r reply) string {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt
}
