package main

import (
	"bytes"
	"errors"
	"github.com/gatehouse/gatehouse/server"
	"strings"
	"testing"
)

// TestProjectionsCommandUsage: help goes to stdout; a missing or unknown
// subcommand and a rebuild without a database are usage or configuration
// errors (exit code 2) that say what to do, before anything is opened.
func TestProjectionsCommandUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"help", "projections"}, &out, &errOut); err != nil || !strings.Contains(out.String(), "projections rebuild [--keep-old]") {
		t.Fatalf("help projections: %v\n%s", err, out.String())
	}
	for _, args := range [][]string{{"projections"}, {"projections", "compact"}} {
		err := run(t.Context(), args, &out, &errOut)
		if code := exitCode(err, &errOut); code != exitUsage || !strings.Contains(err.Error(), "rebuild") {
			t.Errorf("%v: %v (exit %d)", args, err, code)
		}
	}
	err := rebuild(t.Context(), []string{"--keep-old"}, func(string) (string, bool) { return "", false }, &out, &errOut)
	var ce server.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "GATEHOUSE_DATABASE_URL: not set") {
		t.Fatalf("rebuild without a database: %v", err)
	}
}
