package graphql

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"

	"github.com/gatehouse/gatehouse/graphql/generated"
	"github.com/gatehouse/gatehouse/oauth"
)

// TestResolverErrorIsInternal: an error of a resolver that is no REST
// problem (here the bridge's decode error of a malformed 2xx answer,
// naming the inner route and encoding/json's message) is answered as
// internal, its text kept out of the answer: gqlgen wraps such an error
// in a *gqlerror.Error carrying err.Error() before the presenter sees
// it, and the presenter kept that message and called it a
// validation_error.
func TestResolverErrorIsInternal(t *testing.T) {
	broken := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id": pgx-connection-refused`))
	})
	ex := newExecutor(generated.NewExecutableSchema(generated.Config{Resolvers: &resolver{router: broken}, Complexity: costs()}),
		DefaultMaxDepth, DefaultMaxCost, nil)
	ctx := context.WithValue(context.Background(), principalKey{}, oauth.Principal{})
	ctx = graphql.StartOperationTrace(ctx)
	op, errs := ex.CreateOperationContext(ctx, &graphql.RawParams{Query: `{ webhook(id: "w1") { id } credential(id: "c1") { id } }`})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	h, ctx := ex.DispatchOperation(ctx, op)
	resp := h(ctx)
	b, _ := json.Marshal(resp)
	if len(resp.Errors) != 2 {
		t.Fatalf("want two errors: %s", b)
	}
	for _, e := range resp.Errors {
		if e.Message != "internal error" || e.Extensions["code"] != "internal" || len(e.Path) == 0 {
			t.Errorf("error %q %v at %v, want internal error with its path", e.Message, e.Extensions, e.Path)
		}
	}
	for _, leak := range []string{"decode", "pgx", "invalid character", "/v1/"} {
		if strings.Contains(string(b), leak) {
			t.Errorf("the answer holds %q: %s", leak, b)
		}
	}
}
