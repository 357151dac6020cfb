// Command gen is `make graphql` (run in graphql/): gqlgen's generate with
// the configuration gqlgen.yml (the version go.mod pins), then three
// changes to the exec.go it writes, none of which changes an answer; what
// they save is what a GraphQL answer cost beyond the reads (issue 17's
// profile of 50 apps with their scopes and webhooks: ~12,700 allocations
// and ~150 goroutines per answer; docs/architecture.md "GraphQL
// transport").
//
//  1. gqlgen marshals every list of objects with
//     graphql.MarshalSliceConcurrently: a goroutine per element, whatever
//     the element resolves (its codegen has no option for anything else).
//     A list whose element type has no field that resolves anything (no
//     resolver, no method taking a context) has nothing to wait on, so
//     its marshaler calls generated.marshalSliceInline instead
//     (generated/inline.go, written by hand): the elements one after the
//     other, with the same field context per element (paths of errors
//     unchanged) and the same panic recovery. A list whose elements
//     resolve something (Webhook.deliveries, Credential.health) keeps the
//     concurrent marshaler, so its resolvers still run side by side.
//  2. A field read from a struct field whose type is a plain scalar calls
//     the scalar's marshaler directly instead of graphql.ResolveField
//     (directField says what that leaves out).
//  3. An object whose @defer group nothing fills starts from the zero
//     group (unusedDeferredGroup).
//
// The changes are made on the syntax tree of exec.go, where its shape is
// the one expected; gen fails when a list marshaler the plugin named
// does not hold exactly one call to change, or when no field is changed,
// so a gqlgen that writes them otherwise is noticed, not silently left as
// it was.
package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"sort"

	"github.com/99designs/gqlgen/api"
	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
	gqlast "github.com/vektah/gqlparser/v2/ast"
)

func main() {
	if err := run("gqlgen.yml"); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(file string) error {
	cfg, err := config.LoadConfig(file)
	if err != nil {
		return err
	}
	lists := &inlineLists{}
	if err := api.Generate(cfg, api.AddPlugin(lists)); err != nil {
		return err
	}
	return lists.rewrite(cfg.Exec.Filename)
}

// inlineLists is the gqlgen plugin that learns, from the code generator's
// own data, the marshal functions of the lists to marshal in line.
type inlineLists struct {
	funcs map[string]bool
}

func (*inlineLists) Name() string { return "gatehouse-inline-lists" }

// GenerateCode runs before gqlgen writes exec.go, with the data it writes
// it from.
func (p *inlineLists) GenerateCode(data *codegen.Data) error {
	p.funcs = map[string]bool{}
	for _, ref := range data.ReferencedTypes {
		if !ref.IsSlice() || ref.Definition == nil || ref.Definition.Kind != gqlast.Object || ref.Elem().IsSlice() {
			continue
		}
		obj := data.Objects.ByName(ref.Definition.Name)
		if obj == nil || obj.IsConcurrent() {
			continue
		}
		p.funcs[ref.MarshalFunc()] = true
	}
	if len(p.funcs) == 0 {
		return fmt.Errorf("no list of objects without resolvers in the schema")
	}
	return nil
}

// edit replaces the bytes [from, to) of the file.
type edit struct {
	from, to int
	text     string
}

// rewrite makes the changes of the package comment to the file exec.
func (p *inlineLists) rewrite(exec string) error {
	src, err := os.ReadFile(exec)
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, exec, src, parser.ParseComments)
	if err != nil {
		return err
	}
	off := func(pos token.Pos) int { return fset.Position(pos).Offset }
	var edits []edit
	lists := map[string]int{}
	direct := 0
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv == nil || fn.Body == nil {
			continue
		}
		if p.funcs[fn.Name.Name] {
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok && isPkgFunc(call.Fun, "graphql", "MarshalSliceConcurrently") {
					edits = append(edits, edit{off(call.Fun.Pos()), off(call.Fun.End()), "marshalSliceInline"})
					lists[fn.Name.Name]++
				}
				return true
			})
		}
		if e, ok := unusedDeferredGroup(fn, off); ok {
			edits = append(edits, e)
		}
		if e, ok := directField(fn, off); ok {
			edits = append(edits, e)
			direct++
		}
	}
	for name := range p.funcs {
		if lists[name] != 1 {
			return fmt.Errorf("%s: %d calls of graphql.MarshalSliceConcurrently in %s, want 1", exec, lists[name], name)
		}
	}
	if direct == 0 {
		return fmt.Errorf("%s: no field resolved through graphql.ResolveField from a struct field of a plain scalar", exec)
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].from < edits[j].from })
	var out bytes.Buffer
	at := 0
	for _, e := range edits {
		if e.from < at {
			return fmt.Errorf("%s: overlapping changes at offset %d", exec, e.from)
		}
		out.Write(src[at:e.from])
		out.WriteString(e.text)
		at = e.to
	}
	out.Write(src[at:])
	formatted, err := format.Source(out.Bytes())
	if err != nil {
		return err
	}
	return os.WriteFile(exec, formatted, 0o644)
}

// isPkgFunc reports whether e is pkg.name.
func isPkgFunc(e ast.Expr, pkg, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != name {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == pkg
}

// unusedDeferredGroup finds, in an object's marshaler, the
// `deferred := graphql.NewDeferredGroup(ctx)` whose group nothing fills:
// the function reads only len(deferred.Defers) and hands the group to
// ec.ProcessDeferredGroup when that length is not 0 (gqlgen writes so the
// objects without a field that resolves anything, whose fields are never
// deferred). Its empty map, field set and path (four to six allocations
// per object) then change nothing, and the zero group says the same.
func unusedDeferredGroup(fn *ast.FuncDecl, off func(token.Pos) int) (edit, bool) {
	var def *ast.CallExpr
	unused := true
	var stack []ast.Node // the ancestors of the node inspected
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return false
		}
		if as, ok := n.(*ast.AssignStmt); ok && as.Tok == token.DEFINE && len(as.Lhs) == 1 && isIdent(as.Lhs[0], "deferred") {
			call, ok := as.Rhs[0].(*ast.CallExpr)
			if def != nil || !ok || !isPkgFunc(call.Fun, "graphql", "NewDeferredGroup") {
				unused = false
			}
			def = call
			return false // its argument is ctx
		}
		if isIdent(nodeExpr(n), "deferred") && !readsLength(stack) {
			unused = false
		}
		stack = append(stack, n)
		return true
	})
	if def == nil || !unused {
		return edit{}, false
	}
	return edit{off(def.Pos()), off(def.End()), "graphql.DeferredGroup{}"}, true
}

func nodeExpr(n ast.Node) ast.Expr {
	e, _ := n.(ast.Expr)
	return e
}

// readsLength reports whether the ident deferred, whose ancestors are
// stack, is len(deferred.Defers)'s or ec.ProcessDeferredGroup(deferred)'s.
func readsLength(stack []ast.Node) bool {
	switch p := stack[len(stack)-1].(type) {
	case *ast.SelectorExpr:
		call, ok := stack[len(stack)-2].(*ast.CallExpr)
		return p.Sel.Name == "Defers" && ok && isIdent(call.Fun, "len")
	case *ast.CallExpr:
		return isPkgFunc(p.Fun, "ec", "ProcessDeferredGroup")
	}
	return false
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// plainScalars are the marshalers of the scalars whose value is never
// null: graphql.MarshalString, MarshalID, MarshalBoolean and MarshalInt
// never answer graphql.Null, so these read no field context (they would
// only to report a null), and a nil *string is null without one.
var plainScalars = map[string]bool{
	"marshalNString2string":  true,
	"marshalNID2string":      true,
	"marshalNBoolean2bool":   true,
	"marshalNInt2int":        true,
	"marshalOString2ᚖstring": true,
}

// directField finds a field whose value is a struct field of the object
// and whose type is a plain scalar, which gqlgen resolves through
// graphql.ResolveField like any field: a field context, the executor's
// field middleware, a panic guard, the value boxed twice (six
// allocations), to give obj.X to the scalar's marshaler. The field then
// calls the marshaler with obj.X itself. What that leaves out: no
// executor extension of the transport intercepts fields (handler.go's
// newExecutor installs none that does), reading a field of a non-nil
// object cannot panic, and the marshaler reads no field context.
func directField(fn *ast.FuncDecl, off func(token.Pos) int) (edit, bool) {
	if len(fn.Body.List) != 1 {
		return edit{}, false
	}
	ret, ok := fn.Body.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 1 {
		return edit{}, false
	}
	call, ok := ret.Results[0].(*ast.CallExpr)
	if !ok || !isPkgFunc(call.Fun, "graphql", "ResolveField") || len(call.Args) != 9 || !isIdent(call.Args[5], "nil") {
		return edit{}, false
	}
	// func(ctx context.Context) (any, error) { return obj.X, nil }
	resolver, ok := call.Args[4].(*ast.FuncLit)
	if !ok || len(resolver.Body.List) != 1 {
		return edit{}, false
	}
	rr, ok := resolver.Body.List[0].(*ast.ReturnStmt)
	if !ok || len(rr.Results) != 2 || !isIdent(rr.Results[1], "nil") {
		return edit{}, false
	}
	value, ok := rr.Results[0].(*ast.SelectorExpr)
	if !ok || !isIdent(value.X, "obj") {
		return edit{}, false
	}
	// func(ctx context.Context, selections ast.SelectionSet, v T) graphql.Marshaler { return ec.marshalX(ctx, selections, v) }
	marshal, ok := call.Args[6].(*ast.FuncLit)
	if !ok || len(marshal.Body.List) != 1 {
		return edit{}, false
	}
	mr, ok := marshal.Body.List[0].(*ast.ReturnStmt)
	if !ok || len(mr.Results) != 1 {
		return edit{}, false
	}
	mc, ok := mr.Results[0].(*ast.CallExpr)
	if !ok || len(mc.Args) != 3 {
		return edit{}, false
	}
	sel, ok := mc.Fun.(*ast.SelectorExpr)
	if !ok || !isIdent(sel.X, "ec") || !plainScalars[sel.Sel.Name] {
		return edit{}, false
	}
	text := fmt.Sprintf("return ec.%s(ctx, field.Selections, obj.%s)", sel.Sel.Name, value.Sel.Name)
	return edit{off(ret.Pos()), off(ret.End()), text}, true
}
