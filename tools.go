//go:build tools

// Package tools pins the versions of the code generators the build runs
// (`make graphql`): go.mod holds them like any dependency.
package tools

import (
	_ "github.com/99designs/gqlgen"
)
