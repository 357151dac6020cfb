package pgtest

import (
	"testing"
)

// recorder is a testing.TB that records whether Fatalf or Skipf ended the
// test, instead of ending it.
type recorder struct {
	testing.TB
	failed, skipped bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Fatalf(string, ...any) { r.failed = true }
func (r *recorder) Skipf(string, ...any)  { r.skipped = true }

// A missing service fails the test unless the developer opted out.
func TestMissingFailsUnlessSkipped(t *testing.T) {
	t.Setenv(SkipEnv, "")
	r := &recorder{TB: t}
	Missing(r, "PostgreSQL at %s", "x")
	if !r.failed || r.skipped {
		t.Fatalf("without %s: failed %v skipped %v, want a failure", SkipEnv, r.failed, r.skipped)
	}
	t.Setenv(SkipEnv, "1")
	r = &recorder{TB: t}
	Missing(r, "PostgreSQL at %s", "x")
	if !r.skipped {
		t.Fatalf("with %s=1: skipped %v, want a skip", SkipEnv, r.skipped)
	}
}
