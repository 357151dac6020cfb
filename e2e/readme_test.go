package e2e

// TestREADME runs the README's shell examples, top to bottom, as a new
// user pasting them into one shell would, against a fresh server.
//
// How the README marks its examples (the markers are HTML comments, which
// GitHub does not show):
//
//   - Every ```sh block is preceded (on the line before its fence, or
//     before blank lines) by exactly one marker:
//     <!-- expect: 200 400 --> runs the block; the list is the HTTP status
//     of every request the block's curl commands make, in order ("200+"
//     stands for one or more 200s in a row, for a block that polls;
//     "none" for a block that makes no request), or
//     <!-- not run: why --> shows it only (make run, commands that need
//     the server stopped, production settings).
//     A ```sh block without a marker fails the test, so a new example
//     cannot be left out by accident. Other fences (```text, ```console,
//     ```go, …) are never run.
//   - In a run block, lines starting with "#>" show what the block prints
//     (on stdout), in order; the other lines are the commands (so the block
//     still pastes into a shell as is: "#>" lines are comments).
//   - A shown line that is JSON must match the printed line's shape:
//     objects have the same members, arrays the same length (a last element
//     "…" allows more elements), booleans and null are equal, any number
//     matches a number, a string holding "…" is a pattern ("…" stands for
//     any characters: "app_…", "ghcs_…"), a string that is an RFC 3339
//     time matches any such time, and any other string must be equal.
//     A shown line that is not JSON must equal the printed one, "…" again
//     standing for any characters.
//
// The blocks run in one bash session with `set -euo pipefail`, so the
// variables one block makes are there for the next. Before the first
// block the session has what the README's not-run setup block tells the
// user to set: ISS (the issuer of the test's server, which plays `make
// run` with GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true), SECRET (the admin
// secret, read from what the server printed on its first start, as the
// README tells the user to) and HOOK_URL (a receiver answering 204). The
// session's `curl` is a function that also dumps each answer's headers,
// so the test reads every status without changing what the block prints.
// A failing block is reported with its text, what it printed and the
// expectation it missed: a block whose command fails or whose statuses
// differ stops the run (what follows would lack its variables); a shown
// output that differs is reported and the run goes on.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readmeBlockTimeout bounds one block, polls included.
const readmeBlockTimeout = 60 * time.Second

// readmeBlock is one run block of the README.
type readmeBlock struct {
	line     int      // of the opening fence
	script   string   // the block as pasted
	statuses []string // "200", "200+"
	shown    []string // the "#>" lines, without the marker
}

var (
	readmeExpect = regexp.MustCompile(`^<!--\s*expect:\s*(.*?)\s*-->\s*$`)
	readmeSkip   = regexp.MustCompile(`^<!--\s*not run:.*-->\s*$`)
	readmeStatus = regexp.MustCompile(`^[1-5][0-9][0-9]\+?$`)
)

// parseREADME returns the run blocks of the README, in order.
func parseREADME(text string) ([]readmeBlock, error) {
	lines := strings.Split(text, "\n")
	var blocks []readmeBlock
	marker := "" // the last marker line, until a non-blank line clears it
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		trim := strings.TrimSpace(l)
		if !strings.HasPrefix(trim, "```") {
			if readmeExpect.MatchString(trim) || readmeSkip.MatchString(trim) {
				marker = trim
			} else if trim != "" {
				marker = ""
			}
			continue
		}
		lang := strings.TrimPrefix(trim, "```")
		start := i
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, lines[i])
		}
		if i == len(lines) {
			return nil, fmt.Errorf("README.md:%d: the fence is not closed", start+1)
		}
		m := marker
		marker = ""
		if lang != "sh" {
			continue
		}
		if m == "" {
			return nil, fmt.Errorf("README.md:%d: a ```sh block needs <!-- expect: STATUS… --> or <!-- not run: why --> before it", start+1)
		}
		if readmeSkip.MatchString(m) {
			continue
		}
		b := readmeBlock{line: start + 1}
		if spec := readmeExpect.FindStringSubmatch(m)[1]; spec != "none" {
			for _, s := range strings.Fields(spec) {
				if !readmeStatus.MatchString(s) {
					return nil, fmt.Errorf("README.md:%d: %q is not a status in %q", start, s, m)
				}
				b.statuses = append(b.statuses, s)
			}
			if len(b.statuses) == 0 {
				return nil, fmt.Errorf("README.md:%d: %q lists no status (say none)", start, m)
			}
		}
		var script []string
		for _, l := range body {
			if rest, ok := strings.CutPrefix(l, "#>"); ok {
				b.shown = append(b.shown, strings.TrimPrefix(rest, " "))
				continue
			}
			script = append(script, l)
		}
		b.script = strings.Join(script, "\n") + "\n"
		blocks = append(blocks, b)
	}
	return blocks, nil
}

func TestREADME(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's examples need %s: %v", tool, err)
		}
	}
	text, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := parseREADME(string(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) < 10 {
		t.Fatalf("the README has %d run blocks; the parser lost some", len(blocks))
	}

	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)

	// The server as `make run` starts it for a new user: generated admin
	// credentials, printed once.
	s := startServer(t, withGeneratedAdmin(), withEnv("WEBHOOK_ALLOW_PRIVATE", "true"))
	m := regexp.MustCompile(`client_id:\s+(\S+)\s+client_secret:\s+(\S+)`).FindStringSubmatch(s.stdout())
	if m == nil {
		t.Fatalf("the first start printed no admin credentials:\n%s", s.stdout())
	}
	if m[1] != "admin" {
		t.Fatalf("the README's examples use client_id admin; the server printed %q", m[1])
	}

	dir := workDir(t, "readme")
	headers := filepath.Join(dir, "headers")
	if err := os.Mkdir(headers, 0o700); err != nil {
		t.Fatal(err)
	}
	sh := newReadmeShell(t, dir)
	sh.run(t, fmt.Sprintf(`set -euo pipefail
ISS=%s
SECRET=%s
HOOK_URL=%s/hooks
curl() { command curl -D "%s/$(date +%%s%%N)" "$@"; }
`, shQuote(s.URL), shQuote(m[2]), shQuote(receiver.URL), headers))

	for _, b := range blocks {
		out, errOut, runErr := sh.run(t, b.script)
		statuses, serr := readStatuses(headers)
		for _, l := range strings.Split(out, "\n") { // the secrets it printed, for the leak watch
			leaks.record([]byte(l))
		}
		report := func(format string, args ...any) string {
			return fmt.Sprintf("README.md:%d: %s\n--- block:\n%s--- stdout:\n%s--- stderr:\n%s--- statuses: %v",
				b.line, fmt.Sprintf(format, args...), b.script, out, errOut, statuses)
		}
		// A block that failed or whose statuses are off leaves the next
		// ones without what they need: stop there. A mismatched output
		// is reported and the run goes on.
		if runErr != nil {
			t.Fatal(report("the block failed: %v", runErr))
		}
		if serr != nil {
			t.Fatal(report("reading the statuses: %v", serr))
		}
		if err := matchStatuses(b.statuses, statuses); err != nil {
			t.Fatal(report("status: %v", err))
		}
		if err := matchShown(b.shown, out); err != nil {
			t.Error(report("output: %v", err))
		}
	}
}

// readStatuses returns the status of every answer whose headers curl
// dumped into dir since the last call, in order, and empties dir.
func readStatuses(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.SortFunc(names, func(a, b string) int { // nanosecond times, as numbers
		x, _ := strconv.ParseInt(a, 10, 64)
		y, _ := strconv.ParseInt(b, 10, 64)
		return int(x - y)
	})
	var statuses []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		status := "none" // no answer (connection refused)
		for _, l := range strings.Split(string(data), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && strings.HasPrefix(f[0], "HTTP/") {
				status = f[1] // the last one: after a 100 Continue
			}
		}
		statuses = append(statuses, status)
		if err := os.Remove(p); err != nil {
			return nil, err
		}
	}
	return statuses, nil
}

// matchStatuses holds got to want ("200+": one or more 200s).
func matchStatuses(want, got []string) error {
	if !statusesMatch(want, got) {
		return fmt.Errorf("want %v, got %v", want, got)
	}
	return nil
}

func statusesMatch(want, got []string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	code, many := strings.CutSuffix(want[0], "+")
	if len(got) == 0 || got[0] != code {
		return false
	}
	if many && statusesMatch(want, got[1:]) { // one more of the repeat
		return true
	}
	return statusesMatch(want[1:], got[1:])
}

// matchShown holds what a block printed to the lines the README shows.
func matchShown(shown []string, out string) error {
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if out == "" {
		got = nil
	}
	if len(got) != len(shown) {
		return fmt.Errorf("the README shows %d lines, the block printed %d", len(shown), len(got))
	}
	for i, want := range shown {
		var w any
		if json.Unmarshal([]byte(want), &w) != nil {
			if !matchText(want, got[i]) {
				return fmt.Errorf("line %d: printed %q, the README shows %q", i+1, got[i], want)
			}
			continue
		}
		var g any
		if err := json.Unmarshal([]byte(got[i]), &g); err != nil {
			return fmt.Errorf("line %d: the README shows JSON, the block printed %q", i+1, got[i])
		}
		if err := matchJSON("$", w, g); err != nil {
			return fmt.Errorf("line %d: %v\n  printed: %s\n  shown:   %s", i+1, err, got[i], want)
		}
	}
	return nil
}

// matchJSON holds a printed JSON value to the shown one (see the top of
// this file for the rules).
func matchJSON(path string, want, got any) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %s", path, kind(got))
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				return fmt.Errorf("%s: the answer has %q, the README does not show it", path, k)
			}
		}
		for k, v := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Errorf("%s: the README shows %q, the answer has none", path, k)
			}
			if err := matchJSON(path+"."+k, v, gv); err != nil {
				return err
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %s", path, kind(got))
		}
		n := len(w)
		if n > 0 && w[n-1] == "…" {
			n--
			if len(g) < n {
				return fmt.Errorf("%s: want at least %d elements, got %d", path, n, len(g))
			}
		} else if len(g) != n {
			return fmt.Errorf("%s: want %d elements, got %d", path, n, len(g))
		}
		for i := range n {
			if err := matchJSON(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); err != nil {
				return err
			}
		}
	case string:
		g, ok := got.(string)
		if !ok {
			return fmt.Errorf("%s: want a string, got %s", path, kind(got))
		}
		if _, err := time.Parse(time.RFC3339Nano, w); err == nil && !strings.Contains(w, "…") {
			if _, err := time.Parse(time.RFC3339Nano, g); err != nil {
				return fmt.Errorf("%s: want a time, got %q", path, g)
			}
			return nil
		}
		if !matchText(w, g) {
			return fmt.Errorf("%s: want %q, got %q", path, w, g)
		}
	case float64:
		if _, ok := got.(float64); !ok {
			return fmt.Errorf("%s: want a number, got %s", path, kind(got))
		}
	default: // bool, nil
		if want != got {
			return fmt.Errorf("%s: want %v, got %v", path, want, got)
		}
	}
	return nil
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// matchText holds got to want, where "…" stands for any characters.
func matchText(want, got string) bool {
	parts := strings.Split(want, "…")
	for i, p := range parts {
		quoted := regexp.QuoteMeta(p)
		parts[i] = quoted
	}
	return regexp.MustCompile(`^` + strings.Join(parts, `.*`) + `$`).MatchString(got)
}

func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// readmeShell is one bash session that runs blocks one after another.
type readmeShell struct {
	dir   string
	stdin *os.File
	done  chan string   // "done N", one per block
	exit  chan struct{} // closed when bash exits
	err   error         // of Wait, once exit is closed
	n     int
}

func newReadmeShell(t *testing.T, dir string) *readmeShell {
	t.Helper()
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	doneR, doneW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "--norc", "--noprofile")
	cmd.Dir = dir
	cmd.Stdin = stdinR
	cmd.ExtraFiles = []*os.File{doneW} // fd 3
	var env []string
	for _, kv := range os.Environ() { // none of the caller's GATEHOUSE_* settings
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HOME="+dir, "LC_ALL=C.UTF-8")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdinR.Close()
	doneW.Close()
	sh := &readmeShell{dir: dir, stdin: stdinW, done: make(chan string, 1), exit: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(doneR)
		for sc.Scan() {
			sh.done <- sc.Text()
		}
		doneR.Close()
	}()
	go func() { sh.err = cmd.Wait(); close(sh.exit) }()
	t.Cleanup(func() {
		stdinW.Close()
		select {
		case <-sh.exit:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-sh.exit
		}
	})
	return sh
}

// run runs script in the session and returns what it printed. Under
// set -e a failing command ends the session: that is an error.
func (sh *readmeShell) run(t *testing.T, script string) (stdout, stderr string, err error) {
	t.Helper()
	sh.n++
	base := filepath.Join(sh.dir, fmt.Sprintf("block-%03d", sh.n))
	if err := os.WriteFile(base+".sh", []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := fmt.Sprintf("{ source %s.sh; } >%s.out 2>%s.err\necho done %d >&3\n", base, base, base, sh.n)
	if _, err := sh.stdin.WriteString(cmd); err != nil {
		return "", "", fmt.Errorf("the shell is gone: %v", err)
	}
	read := func() {
		o, _ := os.ReadFile(base + ".out")
		e, _ := os.ReadFile(base + ".err")
		stdout, stderr = string(o), string(e)
	}
	select {
	case msg := <-sh.done:
		read()
		if msg != fmt.Sprintf("done %d", sh.n) {
			return stdout, stderr, fmt.Errorf("out of step: %q", msg)
		}
		return stdout, stderr, nil
	case <-sh.exit:
		read()
		return stdout, stderr, fmt.Errorf("a command failed and ended the shell (%v)", sh.err)
	case <-time.After(readmeBlockTimeout):
		read()
		return stdout, stderr, fmt.Errorf("the block did not finish within %s", readmeBlockTimeout)
	}
}

// TestREADMEMatchers holds the README test's own rules to what its doc
// comment says, so a lax matcher cannot let a wrong README pass.
func TestREADMEMatchers(t *testing.T) {
	t.Parallel()
	if _, err := parseREADME("text\n\n```sh\ncurl -s $ISS/healthz\n```\n"); err == nil {
		t.Error("a ```sh block without a marker was accepted")
	}
	if _, err := parseREADME("<!-- expect: 2000 -->\n```sh\ntrue\n```\n"); err == nil {
		t.Error("a malformed status was accepted")
	}
	blocks, err := parseREADME("<!-- not run: shown only -->\n```sh\nmake run\n```\n" +
		"<!-- expect: 201 200+ -->\n\n```sh\nA=$(curl x)\n#> {\"id\":\"app_…\"}\necho \"$A\"\n```\n" +
		"```text\nnot run\n```\n<!-- expect: none -->\nprose clears a marker\n```go\nx := 1\n```\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 1 || blocks[0].line != 7 || !slices.Equal(blocks[0].statuses, []string{"201", "200+"}) ||
		blocks[0].script != "A=$(curl x)\necho \"$A\"\n" || !slices.Equal(blocks[0].shown, []string{`{"id":"app_…"}`}) {
		t.Fatalf("parsed %+v", blocks)
	}

	for _, c := range []struct {
		want, got string
		ok        bool
	}{
		{`{"a":1,"b":"x"}`, `{"b":"x","a":7}`, true},
		{`{"a":1}`, `{"a":1,"b":2}`, false}, // a member the README does not show
		{`{"a":1,"b":2}`, `{"a":1}`, false}, // a member the answer lacks
		{`{"a":1}`, `{"a":"1"}`, false},     // a number is not a string
		{`{"s":"pending"}`, `{"s":"approved"}`, false},
		{`{"id":"app_…"}`, `{"id":"app_x1"}`, true},
		{`{"id":"app_…"}`, `{"id":"cl_x1"}`, false},
		{`{"t":"2026-11-22T07:37:38.2Z"}`, `{"t":"2027-01-01T00:00:00Z"}`, true},
		{`{"t":"2026-11-22T07:37:38.2Z"}`, `{"t":"yesterday"}`, false},
		{`{"ok":true}`, `{"ok":false}`, false},
		{`{"x":null}`, `{"x":""}`, false},
		{`["a","b"]`, `["a","b","c"]`, false},
		{`["a","…"]`, `["a","b","c"]`, true},
		{`["a","…"]`, `[]`, false},
		{`200 ETag: "2"`, `200 ETag: "2"`, true},
		{`200 ETag: "2"`, `412 ETag: "3"`, false},
		{`{"a":1}`, `not json`, false},
	} {
		if err := matchShown([]string{c.want}, c.got+"\n"); (err == nil) != c.ok {
			t.Errorf("shown %s, printed %s: err %v, want ok=%v", c.want, c.got, err, c.ok)
		}
	}
	if matchShown([]string{`{}`}, "{}\n{}\n") == nil {
		t.Error("an extra printed line was accepted")
	}

	for _, c := range []struct {
		want, got []string
		ok        bool
	}{
		{[]string{"200", "400"}, []string{"200", "400"}, true},
		{[]string{"200", "400"}, []string{"200", "401"}, false},
		{[]string{"200"}, []string{"200", "200"}, false},
		{[]string{"202", "200+", "200", "201"}, []string{"202", "200", "200", "200", "201"}, true},
		{[]string{"202", "200+", "200", "201"}, []string{"202", "200", "201"}, false},
		{nil, nil, true},
		{nil, []string{"200"}, false},
	} {
		if err := matchStatuses(c.want, c.got); (err == nil) != c.ok {
			t.Errorf("statuses %v against %v: err %v, want ok=%v", c.want, c.got, err, c.ok)
		}
	}
}
