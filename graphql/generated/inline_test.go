package generated

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// TestMarshalSliceInlineIsMarshalSliceConcurrently: the in-line list
// marshaler answers what gqlgen's concurrent one answers, values, errors
// and their paths (each element's index), a panicking element included
// (null, with the recovered error at its path).
func TestMarshalSliceInlineIsMarshalSliceConcurrently(t *testing.T) {
	type marshalSlice func(ctx context.Context, length int, workerLimit int64, omitPanicHandler bool,
		marshalElement func(ctx context.Context, i int) graphql.Marshaler) graphql.Array
	run := func(marshal marshalSlice, length int) (string, gqlerror.List) {
		ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter,
			func(ctx context.Context, err any) error { return fmt.Errorf("recovered: %v", err) })
		ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Alias: "nodes"}}})
		arr := marshal(ctx, length, 0, false, func(ctx context.Context, i int) graphql.Marshaler {
			switch i {
			case 1:
				graphql.AddError(ctx, errors.New("no such thing"))
				return graphql.Null
			case 2:
				panic("boom")
			}
			return graphql.MarshalString(fmt.Sprint("element ", i, " at ", graphql.GetPath(ctx)))
		})
		var b bytes.Buffer
		arr.MarshalGQL(&b)
		return b.String(), graphql.GetErrors(ctx)
	}
	for _, n := range []int{0, 1, 4} {
		got, gotErrs := run(marshalSliceInline, n)
		want, wantErrs := run(graphql.MarshalSliceConcurrently, n)
		if got != want {
			t.Errorf("%d elements: in line %s, concurrently %s", n, got, want)
		}
		if fmt.Sprint(sortedErrors(gotErrs)) != fmt.Sprint(sortedErrors(wantErrs)) {
			t.Errorf("%d elements: in line errors %v, concurrently %v", n, gotErrs, wantErrs)
		}
		if n == 4 && (len(gotErrs) != 2 || gotErrs[0].Path.String() != "nodes[1]" || gotErrs[1].Path.String() != "nodes[2]") {
			t.Errorf("errors %v, want nodes[1]'s and nodes[2]'s", gotErrs)
		}
	}
}

// sortedErrors are errs by path (the concurrent marshaler adds them in
// any order).
func sortedErrors(errs gqlerror.List) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Path.String() + ": " + e.Message
	}
	slices.Sort(out)
	return out
}
