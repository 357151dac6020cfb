// Command gatehouse is the Gatehouse server: one binary for every
// instance and every operation (`gatehouse serve`, `gatehouse version`).
//
// main only maps the error of run to an exit code, so that run, given its
// arguments and output streams, is what tests drive.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/gatehouse/gatehouse/internal/loadgen"
	"github.com/gatehouse/gatehouse/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process at once
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // bad arguments or configuration
)

// exitCode reports err on stderr and returns the process's exit code.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "gatehouse: %v\n", err)
	var ue usageError
	var ce server.ConfigError
	if errors.As(err, &ue) || errors.As(err, &ce) || errors.Is(err, loadgen.ErrUsage) {
		return exitUsage
	}
	return exitError
}

// usageError is a mistake in the command line.
type usageError = server.UsageError

// command is one subcommand: run gets the arguments after its name.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists the subcommands. It is a function, not a variable, so
// that help can list the map it belongs to.
func commands() map[string]command {
	return map[string]command{
		"serve":       {"run the server (HTTP API, OAuth endpoints, event log)", runServe},
		"bench":       {"load a running server: mint, introspect, jwks or healthz", loadgen.Run},
		"version":     {"print the version, commit and Go version", runVersion},
		"migrate":     {"apply the PostgreSQL schema of the projections (GATEHOUSE_DATABASE_URL)", runMigrate},
		"projections": {"rebuild: replay the log into fresh PostgreSQL tables and swap them in", runProjections},
		"admin":       {"reset-secret: give an app (the bootstrap admin by default) a new client secret", runAdmin},
		"credentials": {"seal: seal an upstream client secret to the tenant's vault key (encrypted_client_secret)", runCredentials},
		"help":        {"show help: gatehouse help [command]", runHelp},
	}
}

// run runs the command named by args[0] until it ends or ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		printUsage(stderr)
		return usageError{Err: errors.New("no command given")}
	}
	if isHelp(args[0]) {
		printUsage(stdout)
		return nil
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		return usageError{Err: fmt.Errorf("unknown command %q (see gatehouse help)", args[0])}
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help"
}

// subcommand checks the arguments of `gatehouse <command> <sub>`, a
// command with one subcommand: none, or -h, prints its help to stdout; a
// word other than sub is a usage error. done: the command ends there,
// with err.
func subcommand(args []string, command, sub string, stdout io.Writer) (done bool, err error) {
	if len(args) == 0 || isHelp(args[0]) {
		printHelp(stdout, command)
		return true, nil
	}
	if args[0] != sub {
		return true, usageError{Err: fmt.Errorf("unknown %s command %q (see gatehouse %s -h)", command, args[0], command)}
	}
	return false, nil
}

// printUsage lists the commands.
func printUsage(w io.Writer) {
	fmt.Fprint(w, "Gatehouse: an event-sourced OAuth 2.0 authorization server.\n\nUsage: gatehouse <command> [flags]\n\nCommands:\n")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-11s %s\n", name, cmds[name].summary)
	}
	fmt.Fprint(w, "\nRun gatehouse <command> -h for the flags of a command.\n")
}

// runHelp prints the usage of the command named in args, or of the binary.
func runHelp(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || isHelp(args[0]) {
		printUsage(stdout)
		return nil
	}
	cmd, ok := commands()[args[0]]
	if !ok || args[0] == "help" {
		return usageError{Err: fmt.Errorf("no help for %q (see gatehouse help)", args[0])}
	}
	return cmd.run(ctx, []string{"-h"}, stdout, stderr)
}
