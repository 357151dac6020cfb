package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// resolveField is a field's function as gqlgen writes it: %[1]s the
// field, %[2]s the resolver's return, %[3]s the middleware, %[4]s the Go
// type, %[5]s the marshaler.
const resolveField = `
func (ec *executionContext) _App_%[1]s(ctx context.Context, field graphql.CollectedField, obj *model.App) (ret graphql.Marshaler) {
	return graphql.ResolveField(
		ctx,
		ec.OperationContext,
		field,
		func(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error) {
			return ec.fieldContext_App_%[1]s(ctx, field)
		},
		func(ctx context.Context) (any, error) {
			return %[2]s, nil
		},
		%[3]s,
		func(ctx context.Context, selections ast.SelectionSet, v %[4]s) graphql.Marshaler {
			return ec.%[5]s(ctx, selections, v)
		},
		true,
		true,
	)
}
`

const middleware = `func(ctx context.Context, next graphql.Resolver) graphql.Resolver {
			return ec._fieldMiddleware(ctx, obj, next)
		}`

// exec is a piece of what gqlgen writes, one function per case.
var exec = "package generated\n" +
	fmt.Sprintf(resolveField, "name", "obj.Name", "nil", "string", "marshalNString2string") +
	fmt.Sprintf(resolveField, "created_at", "obj.CreatedAt", "nil", "time.Time", "marshalNTime2timeᚐTime") +
	fmt.Sprintf(resolveField, "label", "obj.Label()", "nil", "string", "marshalNString2string") +
	fmt.Sprintf(resolveField, "secret", "obj.Secret", middleware, "string", "marshalNString2string") + `
func (ec *executionContext) _Plain(ctx context.Context, sel ast.SelectionSet, obj *model.Plain) graphql.Marshaler {
	out := graphql.NewFieldSet(nil)
	deferred := graphql.NewDeferredGroup(ctx)
	out.Dispatch(ctx)
	if n := len(deferred.Defers); n > 0 {
		ec.ProcessDeferredGroup(deferred)
	}
	return out
}

func (ec *executionContext) _Busy(ctx context.Context, sel ast.SelectionSet, obj *model.Busy) graphql.Marshaler {
	out := graphql.NewFieldSet(nil)
	deferred := graphql.NewDeferredGroup(ctx)
	out.ResolveConcurrently(ec.OperationContext, &deferred, 0, true, false, nil)
	if n := len(deferred.Defers); n > 0 {
		ec.ProcessDeferredGroup(deferred)
	}
	return out
}

func (ec *executionContext) marshalNPlain2ᚕᚖPlainᚄ(ctx context.Context, sel ast.SelectionSet, v []*model.Plain) graphql.Marshaler {
	ret := graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		return ec._Plain(ctx, sel, v[i])
	})
	return ret
}

func (ec *executionContext) marshalNBusy2ᚕᚖBusyᚄ(ctx context.Context, sel ast.SelectionSet, v []*model.Busy) graphql.Marshaler {
	ret := graphql.MarshalSliceConcurrently(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {
		return ec._Busy(ctx, sel, v[i])
	})
	return ret
}
`

// funcBody is the text of the function name in src.
func funcBody(t *testing.T, src, name string) string {
	t.Helper()
	i := strings.Index(src, ") "+name+"(")
	if i < 0 {
		t.Fatalf("no function %s in\n%s", name, src)
	}
	end := strings.Index(src[i:], "\n}\n")
	return src[i : i+end]
}

// TestRewrite: the rewrite changes what it may and only that: a plain
// scalar read from a struct field, the unfilled deferred group, the list
// of objects that resolve nothing.
func TestRewrite(t *testing.T) {
	file := filepath.Join(t.TempDir(), "exec.go")
	if err := os.WriteFile(file, []byte(exec), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &inlineLists{funcs: map[string]bool{"marshalNPlain2ᚕᚖPlainᚄ": true}}
	if err := p.rewrite(file); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for name, want := range map[string]string{
		"_App_name":              "return ec.marshalNString2string(ctx, field.Selections, obj.Name)",
		"_App_created_at":        "graphql.ResolveField(", // a marshaler that may report a null
		"_App_label":             "graphql.ResolveField(", // a method, not a struct field
		"_App_secret":            "graphql.ResolveField(", // field middleware
		"_Plain":                 "deferred := graphql.DeferredGroup{}",
		"_Busy":                  "graphql.NewDeferredGroup(", // the group is filled
		"marshalNPlain2ᚕᚖPlainᚄ": "ret := marshalSliceInline(",
		"marshalNBusy2ᚕᚖBusyᚄ":   "graphql.MarshalSliceConcurrently(",
	} {
		if body := funcBody(t, out, name); !strings.Contains(body, want) {
			t.Errorf("%s does not hold %q:\n%s", name, want, body)
		}
	}
	if body := funcBody(t, out, "_App_name"); strings.Contains(body, "ResolveField") {
		t.Errorf("_App_name still resolves through ResolveField:\n%s", body)
	}

	// A list marshaler gqlgen no longer writes as expected fails the run.
	if err := os.WriteFile(file, []byte(exec), 0o644); err != nil {
		t.Fatal(err)
	}
	p = &inlineLists{funcs: map[string]bool{"marshalNPlain2ᚕᚖPlainᚄ": true, "marshalNGone2ᚕᚖGoneᚄ": true}}
	if err := p.rewrite(file); err == nil || !strings.Contains(err.Error(), "marshalNGone") {
		t.Fatalf("rewrite with a list marshaler missing: %v", err)
	}
}
