package graphql

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/gatehouse/gatehouse/graphql/generated"
	"github.com/gatehouse/gatehouse/oauth"
)

// prepare is what the endpoint does to a document before it runs:
// parse, validate and the policy (CreateOperationContext), within the
// deadline given.
func prepare(t *testing.T, doc string, within time.Duration) gqlerror.List {
	t.Helper()
	return prepareVars(t, doc, nil, within)
}

// prepareVars is prepare with the request's variables.
func prepareVars(t *testing.T, doc string, vars map[string]any, within time.Duration) gqlerror.List {
	t.Helper()
	ex := newExecutor(generated.NewExecutableSchema(generated.Config{Resolvers: &resolver{}, Complexity: costs()}),
		DefaultMaxDepth, DefaultMaxCost, nil)
	ctx := context.WithValue(context.Background(), principalKey{}, oauth.Principal{})
	done := make(chan gqlerror.List, 1)
	go func() {
		_, errs := ex.CreateOperationContext(graphql.StartOperationTrace(ctx), &graphql.RawParams{Query: doc, Variables: vars})
		done <- errs
	}()
	select {
	case errs := <-done:
		return errs
	case <-time.After(within):
		t.Fatalf("the policy did not decide within %v", within)
		return nil
	}
}

// doubling is fragments F0..Fn-1 each spreading the next twice: 2^n
// fields once spread, in 11 tokens a fragment.
func doubling(n int) string {
	var b strings.Builder
	b.WriteString("query { ...F0 }\n")
	for i := range n {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { __typename }\n", n)
	return b.String()
}

// TestPolicyFragmentExpansion: fragments that each spread the next twice
// (45 of them, about 500 tokens: within MaxTokens, and valid) select
// 2^45 fields once spread. The depth walk and gqlgen's cost walk spread
// every fragment at every use, so deciding to refuse the operation took
// 2^45 steps (20 fragments took 0.4 s, each one more doubled it): one
// request held a core for days, to any holder of graphql:adhoc or of an
// approved operation written so. The fields an operation selects once
// spread are counted first, each fragment counted once, and past the
// cost limit the operation is refused before either walk.
func TestPolicyFragmentExpansion(t *testing.T) {
	errs := prepare(t, doubling(45), 20*time.Second)
	if len(errs) != 1 || errs[0].Extensions["code"] != "validation_error" || !strings.Contains(errs[0].Message, "fragments") {
		t.Fatalf("2^45 fields: %v", errs)
	}
	// 2^15 fields are within the cost limit (50,000) and pass.
	if errs := prepare(t, doubling(15), 20*time.Second); len(errs) > 0 {
		t.Fatalf("2^15 fields: %v", errs)
	}
	// 2^16 are past it.
	if errs := prepare(t, doubling(16), 20*time.Second); len(errs) != 1 || !strings.Contains(errs[0].Message, "fragments") {
		t.Fatalf("2^16 fields: %v", errs)
	}
}

// TestPolicyInnerRequestsCost: a field of a list's nodes that the bridge
// answers with a REST request of its own (Credential.health,
// Webhook.deliveries) costs that request (innerRequestCost), not one like
// a scalar: 20 aliases of health under 500 credentials cost 20,500, within
// the limit, and were 10,000 REST requests in one GraphQL request.
func TestPolicyInnerRequestsCost(t *testing.T) {
	var b strings.Builder
	b.WriteString("{ credentials(first: 500) { nodes {")
	for i := range 20 {
		fmt.Fprintf(&b, " h%d: health { id }", i)
	}
	b.WriteString(" } } }")
	if errs := prepare(t, b.String(), 20*time.Second); len(errs) != 1 || !strings.Contains(errs[0].Message, "the operation costs") {
		t.Fatalf("10,000 inner requests: %v", errs)
	}
	b.Reset()
	b.WriteString("{ webhooks(first: 500) { nodes {")
	for i := range 20 {
		fmt.Fprintf(&b, " d%d: deliveries(first: 1) { nodes { id } }", i)
	}
	b.WriteString(" } } }")
	if errs := prepare(t, b.String(), 20*time.Second); len(errs) != 1 || !strings.Contains(errs[0].Message, "the operation costs") {
		t.Fatalf("10,000 inner requests: %v", errs)
	}
	// One health per credential of a full page stays within the limit.
	if errs := prepare(t, "{ credentials(first: 500) { nodes { id health { id status } } } }", 20*time.Second); len(errs) > 0 {
		t.Fatalf("500 inner requests: %v", errs)
	}
}

// TestPolicyNoSuggestions: validation errors spell no schema name the
// document did not: introspection is refused without graphql:introspect,
// and "Did you mean" answered the arguments, input fields and types near
// a guess (SetDisableSuggestion quiets only fields and scalar leaves).
func TestPolicyNoSuggestions(t *testing.T) {
	for _, doc := range []string{
		`{ apps(firs: 1) { nodes { id } } }`,                                      // an argument
		`mutation { create_app(input: {name: "x", activ: true}) { app { id } } }`, // an input field
		`query($x: Strin) { __typename }`,                                         // a type
		`{ scope { name } }`,                                                      // a field
		`{ apps { nodes { nam } } }`,                                              // a field of a type
	} {
		errs := prepare(t, doc, 20*time.Second)
		if len(errs) == 0 {
			t.Fatalf("%s: no error", doc)
		}
		for _, e := range errs {
			if strings.Contains(e.Message, "Did you mean") {
				t.Errorf("%s: %s", doc, e.Message)
			}
		}
	}
}

// TestPolicyNumberVariablesAreNumbers: a JSON string is no Int or Float
// (GraphQL input coercion), in a variable, a list's element or an input
// object's field; gqlparser took {"first": "10"} as 10.
func TestPolicyNumberVariablesAreNumbers(t *testing.T) {
	cases := []struct {
		doc  string
		vars map[string]any
		path string
	}{
		{`query($f: Int) { scopes(first: $f) { nodes { name } } }`, map[string]any{"f": "10"}, "variable.f"},
		{`mutation($in: AppCreateInput!) { create_app(input: $in) { app { id } } }`,
			map[string]any{"in": map[string]any{"name": "n", "access_token_ttl_seconds": "3600"}}, "variable.in.access_token_ttl_seconds"},
	}
	for _, c := range cases {
		errs := prepareVars(t, c.doc, c.vars, 20*time.Second)
		if len(errs) != 1 || !strings.Contains(errs[0].Message, "not a string") || errs[0].Path.String() != c.path {
			t.Errorf("%v: %v", c.vars, errs)
		}
	}
	// JSON numbers pass.
	ok := map[string]any{"in": map[string]any{"name": "n", "access_token_ttl_seconds": json.Number("3600")}}
	if errs := prepareVars(t, cases[1].doc, ok, 20*time.Second); len(errs) > 0 {
		t.Errorf("a number: %v", errs)
	}
	if errs := prepareVars(t, cases[0].doc, map[string]any{"f": json.Number("10")}, 20*time.Second); len(errs) > 0 {
		t.Errorf("a number: %v", errs)
	}
}

// TestPolicyPageCostSaturates: a page's cost is first times its fields,
// and first is the caller's: 2^62+1 under four fields wrapped to a cost
// of 4, and the operation passed the cost limit.
func TestPolicyPageCostSaturates(t *testing.T) {
	for _, doc := range []string{
		`{ scopes(first: 4611686018427387905) { nodes { name description built_in } } }`,
		`{ apps(first: 1) { nodes { webhooks(first: 4611686018427387905) { id url events description } } } }`,
		`{ webhooks(first: 1) { nodes { deliveries(first: 4611686018427387905) { nodes { id event_id status } } } } }`,
	} {
		errs := prepare(t, doc, 20*time.Second)
		if len(errs) != 1 || !strings.Contains(errs[0].Message, "the operation costs") {
			t.Errorf("%s: %v", doc, errs)
		}
	}
}
