package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// The leak watch (DESIGN.md invariant 3, issue 4): every secret a test is
// given by any server (client secrets of apps, tenants and rotations,
// webhook secrets, the bootstrap admin's) is recorded from the answers
// themselves; when a server's test ends, and for the shared server at the
// end of the run, the server's whole event log (the raw bytes of its
// JetStream store) and everything it logged on stderr are searched for
// every recorded secret, and the log for private key material. stdout is
// left out: the contract prints a generated bootstrap secret there, once.

var leaks = &leakWatch{secrets: map[string]bool{adminSecret: true}}

type leakWatch struct {
	mu      sync.Mutex
	secrets map[string]bool
}

// secretKeys are the JSON members whose string values are secrets.
var secretKeys = map[string]bool{"client_secret": true, "secret": true}

// record remembers every secret in a JSON answer body.
func (l *leakWatch) record(body []byte) {
	if !bytes.Contains(body, []byte("secret")) {
		return
	}
	var v any
	if json.Unmarshal(body, &v) != nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && secretKeys[k] && len(s) >= 16 {
					l.secrets[s] = true
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
}

func (l *leakWatch) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.secrets))
	for s := range l.secrets {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// privateKeyMarks are what private key material looks like in JSON or
// PEM: a JWK's private members, or a PEM block.
var privateKeyMarks = []string{`"d":"`, `"p":"`, `"q":"`, `"dp":"`, `"dq":"`, `"qi":"`, "PRIVATE KEY"}

// findLeaks searches the files under dir and the texts for secrets (in the
// clear), and the files for private key material. It returns what it
// found, described without the secret itself.
func findLeaks(dir string, secrets []string, texts map[string]string) ([]string, error) {
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				found = append(found, fmt.Sprintf("recorded secret #%d (%s…) in %s", i, s[:6], path))
			}
		}
		for _, m := range privateKeyMarks {
			if bytes.Contains(b, []byte(m)) {
				found = append(found, fmt.Sprintf("private key material %q in %s", m, path))
			}
		}
		return nil
	})
	for name, text := range texts {
		for i, s := range secrets {
			if strings.Contains(text, s) {
				found = append(found, fmt.Sprintf("recorded secret #%d (%s…) in %s", i, s[:6], name))
			}
		}
	}
	return found, err
}

// checkServerLeaks searches s's data directory and stderr.
func checkServerLeaks(s *server) error {
	if s == nil {
		return nil
	}
	texts := map[string]string{}
	for i, p := range s.Starts {
		texts[fmt.Sprintf("stderr of start %d", i+1)] = p.stderr.String()
	}
	found, err := findLeaks(s.Dir, leaks.all(), texts)
	if err != nil {
		return err
	}
	if len(found) > 0 {
		return fmt.Errorf("secrets in the clear:\n  %s", strings.Join(found, "\n  "))
	}
	return nil
}

// TestLeakWatchFindsPlantedSecrets shows the search can fail: a secret and
// a private JWK planted in a store file and in a log are found.
func TestLeakWatchFindsPlantedSecrets(t *testing.T) {
	dir := t.TempDir()
	secret := "ghcs_planted-secret-0123456789abcdef"
	if err := os.MkdirAll(filepath.Join(dir, "jetstream", "blk"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "jetstream", "blk", "1.blk"), []byte(`xx{"jwk":{"kty":"EC","d":"c2VjcmV0"}}`+secret), 0o644); err != nil {
		t.Fatal(err)
	}
	found, err := findLeaks(dir, []string{secret}, map[string]string{"log": "level=INFO secret=" + secret})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 3 {
		t.Fatalf("found %d leaks, want 3 (file secret, file key, log secret): %v", len(found), found)
	}
	w := &leakWatch{secrets: map[string]bool{}}
	w.record([]byte(`{"id":"x","admin_app":{"client_secret":"ghcs_0123456789abcdefXYZ"},"secret":"whsec_0123456789abcdefghij"}`))
	if got := w.all(); len(got) != 2 {
		t.Fatalf("recorded %v, want the nested client_secret and the webhook secret", got)
	}
	if found, _ := findLeaks(t.TempDir(), w.all(), map[string]string{"log": "nothing here"}); len(found) != 0 {
		t.Fatalf("found leaks in nothing: %v", found)
	}
}
