package main

import (
	"io/fs"
	"strings"
	"testing"
)

// TestHelpTexts holds help/*.txt to the commands: each file is a
// command's, `<command> -h` prints the file (serve adds its flags), and
// every command's -h prints some help (printHelp panics on a command
// without its file).
func TestHelpTexts(t *testing.T) {
	for name := range commands() {
		if out, _, err := runOut(t, name, "-h"); err != nil || !strings.Contains(out, "Usage: gatehouse") {
			t.Errorf("%s -h: err %v, no usage line:\n%s", name, err, out)
		}
	}
	files, err := fs.Glob(helpTexts, "help/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no help texts embedded (%v)", err)
	}
	cmds := commands()
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(f, "help/"), ".txt")
		if _, ok := cmds[name]; !ok {
			t.Errorf("%s: no command %q", f, name)
			continue
		}
		text, err := fs.ReadFile(helpTexts, f)
		if err != nil || !strings.HasPrefix(string(text), "Usage: gatehouse "+name) {
			t.Errorf("%s: does not start with its usage line (%v)", f, err)
		}
		out, errOut, err := runOut(t, name, "-h")
		if err != nil || errOut != "" || !strings.HasPrefix(out, string(text)) {
			t.Errorf("%s -h: err %v, stderr %q, stdout does not start with %s:\n%s", name, err, errOut, f, out)
		}
	}
}
