package servertest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Main runs a package's tests (call it from TestMain), then fails the
// test binary when a goroutine of the server outlives them by more than
// LeakWait: a server a test did not close, or a worker whose Close does
// not stop what it started. A goroutine of the server is one whose stack
// names a function of this module or of the NATS server or client.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaks := leaked(LeakWait); leaks != "" {
			fmt.Fprintf(os.Stderr, "servertest: goroutines of the server outlive the tests by %s:\n\n%s\n", LeakWait, leaks)
			code = 1
		}
	}
	os.Exit(code)
}

// LeakWait is how long Main waits for the server's goroutines to end.
var LeakWait = 5 * time.Second

// leaked waits up to wait for the server's goroutines to end, and
// returns the stacks of those that did not.
func leaked(wait time.Duration) string {
	deadline := time.Now().Add(wait)
	for {
		stacks := serverGoroutines()
		if len(stacks) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(stacks, "\n\n")
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
}

// serverGoroutines are the stacks of the running goroutines that name the
// module or NATS, but for the one running Main.
func serverGoroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "servertest.Main") || strings.Contains(g, "servertest.serverGoroutines") {
			continue
		}
		if strings.Contains(g, "github.com/gatehouse/gatehouse/") || strings.Contains(g, "github.com/nats-io/") {
			out = append(out, g)
		}
	}
	return out
}
