package main

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestMain lets a test run this binary's main in a subprocess: the test
// binary re-executes itself with GATEHOUSE_TEST_MAIN=1 and the command
// line in GATEHOUSE_TEST_ARGS (see TestSIGTERM).
func TestMain(m *testing.M) {
	if os.Getenv("GATEHOUSE_TEST_MAIN") == "1" {
		os.Args = append([]string{"gatehouse"}, strings.Fields(os.Getenv("GATEHOUSE_TEST_ARGS"))...)
		main()
		return
	}
	os.Exit(m.Run())
}

// runOut runs the binary's command line args and returns its error and
// outputs.
func runOut(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut strings.Builder
	err = run(t.Context(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestHelp(t *testing.T) {
	cases := []struct {
		args []string
		want string // on stdout
	}{
		{[]string{"-h"}, "Usage: gatehouse <command>"},
		{[]string{"--help"}, "Usage: gatehouse <command>"},
		{[]string{"help"}, "Usage: gatehouse <command>"},
		{[]string{"help", "-h"}, "Usage: gatehouse <command>"},
		{[]string{"help", "serve"}, "--master-key  (GATEHOUSE_MASTER_KEY"},
		{[]string{"serve", "-h"}, "Usage: gatehouse serve"},
		{[]string{"serve", "--help"}, "--shutdown-timeout  (GATEHOUSE_SHUTDOWN_TIMEOUT, default 15s)"},
		{[]string{"serve", "--addr", ":1", "-h"}, "Usage: gatehouse serve"},
		{[]string{"version", "-h"}, "Usage: gatehouse version"},
		{[]string{"help", "version"}, "Usage: gatehouse version"},
	}
	for _, tc := range cases {
		out, errOut, err := runOut(t, tc.args...)
		if err != nil || !strings.Contains(out, tc.want) || errOut != "" {
			t.Errorf("%v: err %v, stdout lacks %q or stderr not empty:\n%s\n%s", tc.args, err, tc.want, out, errOut)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, `no help for "frobnicate"`},
		{[]string{"version", "extra"}, `version takes no arguments`},
		{[]string{"version", "--bogus"}, "flag provided but not defined"},
		{[]string{"serve", "--bogus"}, "flag provided but not defined"},
		{[]string{"serve", "--log-level", "loud"}, `--log-level: "loud" is not one of`},
		{[]string{"serve", "--issuer", "x"}, "GATEHOUSE_ISSUER"},
	}
	for _, tc := range cases {
		_, _, err := runOut(t, tc.args...)
		var stderr strings.Builder
		if code := exitCode(err, &stderr); code != exitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), exitUsage, tc.want)
		}
	}
	if _, errOut, _ := runOut(t); !strings.Contains(errOut, "Usage: gatehouse") {
		t.Errorf("no command: usage not on stderr: %q", errOut)
	}
}

func TestExitCode(t *testing.T) {
	var w strings.Builder
	if exitCode(nil, &w) != exitOK || w.Len() != 0 {
		t.Fatalf("nil error: exit %d, wrote %q", exitCode(nil, &w), w.String())
	}
	if exitCode(errors.New("boom"), &w) != exitError || w.String() != "gatehouse: boom\n" {
		t.Fatalf("error: wrote %q", w.String())
	}
}

func TestVersion(t *testing.T) {
	old := version
	version = "v9.9.9-test"
	t.Cleanup(func() { version = old })
	out, _, err := runOut(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"gatehouse v9.9.9-test\n", "commit:  ", "go:      " + runtime.Version()} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
}
