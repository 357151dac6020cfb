package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// runOut runs `gatehouse bench …` (args[0] "bench") or `gatehouse help
// bench` as main dispatches them, with captured output.
func runOut(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut strings.Builder
	err = run(t.Context(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// run is main's dispatch of `bench …` and `help bench`.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if args[0] == "help" {
		return Run(ctx, []string{"-h"}, stdout, stderr)
	}
	return Run(ctx, args[1:], stdout, stderr)
}

// main's exit codes.
const (
	exitError = 1
	exitUsage = 2
)

// exitCode is main's mapping of the errors of Run: the message on
// stderr, exitUsage for ErrUsage.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "gatehouse: %v\n", err)
	if errors.Is(err, ErrUsage) {
		return exitUsage
	}
	return exitError
}
