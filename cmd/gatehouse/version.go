package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// Set at build time: go build -ldflags "-X main.version=v1.2.3 -X main.commit=abc123".
var (
	version = "dev"
	commit  = "dev"
)

// runVersion prints the version, the commit and the Go version.
func runVersion(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			printHelp(stdout, "version")
			return nil
		}
		return usageError{Err: err}
	}
	if fs.NArg() > 0 {
		return usageError{Err: fmt.Errorf("version takes no arguments, got %q", fs.Arg(0))}
	}
	fmt.Fprintf(stdout, "gatehouse %s\ncommit:  %s\ngo:      %s %s/%s\n", version, buildCommit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}

// buildCommit is commit, or the VCS revision the Go toolchain stamped when
// commit was not set.
func buildCommit() string {
	if commit != "dev" {
		return commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				return s.Value
			}
		}
	}
	return commit
}
