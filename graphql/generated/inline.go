package generated

// Written by hand, not by gqlgen: `make graphql` (graphql/gen) makes
// exec.go call marshalSliceInline for the lists whose element type
// resolves nothing (see graphql/gen).

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// marshalSliceInline is graphql.MarshalSliceConcurrently without the
// goroutines: each element is marshalled in turn, under a field context
// of its own holding its index (so that an error's path names it), and a
// panic of one element is its error, the element null, as there (unless
// the configuration omits the panic handler). workerLimit bounds
// goroutines, of which there are none.
func marshalSliceInline(ctx context.Context, length int, workerLimit int64, omitPanicHandler bool,
	marshalElement func(ctx context.Context, i int) graphql.Marshaler,
) graphql.Array {
	_ = workerLimit
	ret := make(graphql.Array, length)
	for i := range length {
		childCtx := graphql.WithFieldContext(ctx, &graphql.FieldContext{Index: &i})
		if omitPanicHandler {
			ret[i] = marshalElement(childCtx, i)
			continue
		}
		ret[i] = marshalOne(childCtx, i, marshalElement)
	}
	return ret
}

func marshalOne(ctx context.Context, i int, marshalElement func(ctx context.Context, i int) graphql.Marshaler) (m graphql.Marshaler) {
	defer func() {
		if r := recover(); r != nil {
			graphql.AddError(ctx, graphql.Recover(ctx, r))
			m = graphql.Null
		}
	}()
	return marshalElement(ctx, i)
}
