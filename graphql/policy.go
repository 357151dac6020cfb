package graphql

import (
	"context"
	"errors"
	"math"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/gatehouse/gatehouse/graphql/generated"
	"github.com/gatehouse/gatehouse/httpapi"
)

// The built-in scopes of the transport (API.md "Authentication of the
// platform API").
const (
	ScopeIntrospect = "graphql:introspect"
	ScopeAdhoc      = "graphql:adhoc"
)

// Default limits of an operation (API.md "GraphQL transport": depth and
// cost are capped).
const (
	// DefaultMaxDepth is the deepest selection, introspection's own
	// subtrees aside (gqlparser caps those).
	DefaultMaxDepth = 8
	// DefaultMaxCost caps the sum of the fields an operation may answer:
	// one per field, a list's children counted as many times as the page
	// asks (first, default 50; an app's webhooks too), and a node's field
	// that makes a REST request of its own 10 more (innerRequestCost).
	DefaultMaxCost = 50_000
)

// MaxTokens caps the lexical tokens of a document, read before it is
// validated: gqlparser's validation (OverlappingFieldsCanBeMerged)
// compares the fields of one response name pairwise, so a document
// repeating one field n times cost O(n²) (4,000 __typename, 44 KB, took
// 5.6 s of CPU; a 1 MiB body would take an hour). A thousand tokens is
// six times the largest document the project's own clients send and more
// than a selection of every field of the schema.
const MaxTokens = 1000

// loadDocument parses doc within MaxTokens and validates it against the
// schema, as the executor does (gqlparser.LoadQueryWithRules without a
// token limit, which registration used).
func loadDocument(doc string) (*ast.QueryDocument, gqlerror.List) {
	q, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: doc}, MaxTokens)
	if err != nil {
		var ge *gqlerror.Error
		if errors.As(err, &ge) {
			return nil, gqlerror.List{ge}
		}
		return nil, gqlerror.List{gqlerror.Wrap(err)}
	}
	if errs := validator.ValidateWithRules(schema, q, nil); len(errs) > 0 {
		return nil, errs
	}
	return q, nil
}

// policy is the executor extension that decides, once the operation is
// parsed and validated and before anything runs: introspection only with
// graphql:introspect, then depth, then cost.
type policy struct {
	es       graphql.ExecutableSchema
	maxDepth int
	maxCost  int
}

var (
	_ graphql.HandlerExtension        = policy{}
	_ graphql.OperationContextMutator = policy{}
)

func (policy) ExtensionName() string                          { return "GatehousePolicy" }
func (policy) Validate(schema graphql.ExecutableSchema) error { return nil }

func (p policy) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	for _, def := range op.Operation.VariableDefinitions {
		if v, ok := op.Variables[def.Variable]; ok {
			if err := numberKinds(def.Type, v, ast.Path{ast.PathName("variable"), ast.PathName(def.Variable)}); err != nil {
				return err
			}
		}
	}
	if n := (&expansion{doc: op.Doc, limit: p.maxCost}).count(op.Operation.SelectionSet); n > p.maxCost {
		return codedError(httpapi.CodeValidation, "once its fragments are spread, the operation selects more than %d fields (the cost limit)", p.maxCost)
	}
	w := walker{doc: op.Doc, seen: map[string]bool{}}
	depth := w.depth(op.Operation.SelectionSet, 1)
	if w.introspects {
		if !principalOf(ctx).Has(ScopeIntrospect) {
			return codedError(httpapi.CodeInsufficientScope, "introspection needs the scope %s", ScopeIntrospect)
		}
		op.DisableIntrospection = false
	}
	if depth > p.maxDepth {
		return codedError(httpapi.CodeValidation, "the operation is %d levels deep; the limit is %d", depth, p.maxDepth)
	}
	if cost := complexity.Calculate(ctx, p.es, op.Operation, op.Variables); cost > p.maxCost {
		return codedError(httpapi.CodeValidation, "the operation costs %d; the limit is %d (ask for smaller pages with first, or fewer fields)", cost, p.maxCost)
	}
	return nil
}

// expansion counts the fields a selection selects once its fragments are
// spread, each fragment counted once (memo) and every count stopping
// past limit. The depth walk (walker) and gqlgen's cost walk spread each
// fragment again at every use, so fragments that each spread the next
// twice made them exponential in the document (45 such fragments, 500
// tokens, 2^45 steps); this count is linear in it, and the walks run
// only on operations of at most limit fields.
type expansion struct {
	doc   *ast.QueryDocument
	memo  map[string]int
	limit int
}

func (e *expansion) count(set ast.SelectionSet) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n += 1 + e.count(s.SelectionSet)
		case *ast.InlineFragment:
			n += e.count(s.SelectionSet)
		case *ast.FragmentSpread:
			c, ok := e.memo[s.Name]
			if !ok {
				if e.memo == nil {
					e.memo = map[string]int{}
				}
				e.memo[s.Name] = 0 // a cycle (refused by validation) counts nothing
				if f := e.doc.Fragments.ForName(s.Name); f != nil {
					c = e.count(f.SelectionSet)
				}
				e.memo[s.Name] = c
			}
			n += c
		}
		if n > e.limit {
			return e.limit + 1
		}
	}
	return n
}

// walker measures a selection's depth through fragments, and notes
// introspection fields (__schema, __type), whose subtrees it does not
// count.
type walker struct {
	doc         *ast.QueryDocument
	seen        map[string]bool
	introspects bool
}

func (w *walker) depth(set ast.SelectionSet, level int) int {
	deepest := level - 1
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				w.introspects = true
				continue
			}
			d = level
			if len(s.SelectionSet) > 0 {
				d = w.depth(s.SelectionSet, level+1)
			}
		case *ast.InlineFragment:
			d = w.depth(s.SelectionSet, level)
		case *ast.FragmentSpread:
			f := w.doc.Fragments.ForName(s.Name)
			if f == nil || w.seen[s.Name] {
				continue
			}
			w.seen[s.Name] = true
			d = w.depth(f.SelectionSet, level)
			delete(w.seen, s.Name)
		}
		deepest = max(deepest, d)
	}
	return deepest
}

// pageCost is what a connection's page counts for: first, or the REST
// default (50).
//
// The product saturates at math.MaxInt: first is the caller's, and a
// product past it wrapped (first 2^62+1 under four fields cost 4, the
// operation passed the cost limit, and only the REST twin's range check
// of first was left to refuse it).
func pageCost(child int, first *int) int {
	n := 50
	if first != nil && *first > 0 {
		n = *first
	}
	if child > 0 && n > math.MaxInt/child {
		return math.MaxInt
	}
	return child * n
}

// innerRequestCost is what a field of an object in a list costs for the
// REST request the bridge makes to answer it (Webhook.deliveries,
// Credential.health), on top of its answer's fields: counted as one, like
// a scalar, 20 aliases of health under a page of 500 credentials cost
// 20,500 and made 10,000 REST requests in one GraphQL request.
// (App.webhooks is one batch for every app: batch.)
const innerRequestCost = 10

// costs are the complexity functions of the list fields and of the
// fields answered by a REST request of their own.
func costs() generated.ComplexityRoot {
	var c generated.ComplexityRoot
	c.Query.Apps = func(child int, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.Scopes = func(child int, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.EventTypes = func(child int, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.Webhooks = func(child int, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.Credentials = func(child int, first *int, _ *string) int { return pageCost(child, first) }
	c.Query.AuditEvents = func(child int, _ *int64, first *int, _, _ *string) int { return pageCost(child, first) }
	c.Webhook.Deliveries = func(child int, _ *string, first *int, _ *string) int {
		return min(pageCost(child, first), math.MaxInt-innerRequestCost) + innerRequestCost
	}
	c.Credential.Health = func(child int) int { return min(child, math.MaxInt-innerRequestCost) + innerRequestCost }
	c.App.Webhooks = func(child int, first *int) int { return pageCost(child, first) }
	return c
}

// numberKinds refuses a variable's value, or a value within it (a list's
// element, an input object's field), that is a JSON string where the
// type is Int or Float: GraphQL's input coercion takes no string for
// either (spec §3.5.1, §3.5.2), and gqlparser's variable validation let
// {"first": "10"} through as 10. v is the variable as validated, JSON
// numbers json.Number or coerced to int64/float64.
func numberKinds(t *ast.Type, v any, path ast.Path) *gqlerror.Error {
	if v == nil {
		return nil
	}
	if t.Elem != nil {
		list, ok := v.([]any)
		if !ok {
			return numberKinds(t.Elem, v, path) // one value for a list
		}
		for i, e := range list {
			if err := numberKinds(t.Elem, e, append(path[:len(path):len(path)], ast.PathIndex(i))); err != nil {
				return err
			}
		}
		return nil
	}
	switch t.NamedType {
	case "Int", "Float":
		if _, ok := v.(string); ok {
			return gqlerror.ErrorPathf(path, "must be a JSON number (%s), not a string", t.NamedType)
		}
		return nil
	}
	def := schema.Types[t.NamedType]
	obj, ok := v.(map[string]any)
	if def == nil || def.Kind != ast.InputObject || !ok {
		return nil
	}
	for _, f := range def.Fields {
		if fv, ok := obj[f.Name]; ok {
			if err := numberKinds(f.Type, fv, append(path[:len(path):len(path)], ast.PathName(f.Name))); err != nil {
				return err
			}
		}
	}
	return nil
}
