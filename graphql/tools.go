//go:build tools

package graphql

// The code generator `make graphql` runs (gqlgen's command), imported
// under a build tag no build sets, so that go.mod pins its version like
// any dependency's (the tools pattern).
import (
	_ "github.com/99designs/gqlgen"
)
