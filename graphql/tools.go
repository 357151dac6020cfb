//go:build tools

package graphql

// gqlgen's command, imported under a build tag no build sets, so that
// go.mod pins its version like any dependency's (the tools pattern).
// `make graphql` runs graphql/gen, which calls the same generator
// (gqlgen's api.Generate) and then changes its exec.go; the command
// stays at hand to compare with (`go run github.com/99designs/gqlgen
// generate --config gqlgen.yml` in graphql/ writes gqlgen's own exec.go).
import (
	_ "github.com/99designs/gqlgen"
)
