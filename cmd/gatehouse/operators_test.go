package main

import (
	"encoding/json"
	"errors"
	"github.com/gatehouse/gatehouse/internal/syncbuf"
	"github.com/gatehouse/gatehouse/server"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"
)

// An unset issuer follows the address the server listens on (API.md
// "Operations"), here a port picked at start, and the default address is
// loopback.
func TestServeIssuerFollowsListenAddress(t *testing.T) {
	def, err := server.LoadConfig(nil, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if def.Addr != "127.0.0.1:8080" || def.Issuer != "" {
		t.Fatalf("defaults: addr %q issuer %q, want 127.0.0.1:8080 and empty", def.Addr, def.Issuer)
	}
	r := startServe(t, "--data-dir", t.TempDir())
	code, body, _ := get(t, r.url+"/.well-known/oauth-authorization-server")
	if code != 200 {
		t.Fatalf("discovery = %d %s", code, body)
	}
	var doc struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Issuer != r.url || doc.TokenEndpoint != r.url+"/v1/oauth/token" {
		t.Fatalf("issuer %q token endpoint %q, want the listen URL %q", doc.Issuer, doc.TokenEndpoint, r.url)
	}
}

// Issue 12 point 9: a first start interrupted after the bootstrap's append
// and before it printed the generated admin secret loses nothing: the
// next start prints that secret, which mints a token, and then forgets it.
func TestBootstrapSecretSurvivesInterrupt(t *testing.T) {
	dir := t.TempDir()
	server.BootstrapAppended = func() error { return errors.New("interrupted after the append") }
	var out, errOut syncbuf.Buffer
	err := run(t.Context(), []string{"serve", "--addr", "127.0.0.1:0", "--stream-prefix", "t", "--data-dir", dir}, &out, &errOut)
	server.BootstrapAppended = nil
	if err == nil || strings.Contains(out.String(), "client_secret") {
		t.Fatalf("interrupted start: err %v, stdout %q; want a failure that printed no secret", err, out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, server.PendingSecretFile)); err != nil {
		t.Fatalf("no pending secret after the interrupt: %v", err)
	}
	r := startServe(t, "--data-dir", dir)
	m := regexp.MustCompile(`client_secret: (\S+)`).FindStringSubmatch(waitFor(t, r, "curl"))
	if m == nil || !strings.Contains(r.stdout.String(), "interrupted") {
		t.Fatalf("the next start did not print the pending secret:\n%s", r.stdout)
	}
	cc := clientcredentials.Config{ClientID: "admin", ClientSecret: m[1], TokenURL: r.url + "/v1/oauth/token"}
	if _, err := cc.Token(t.Context()); err != nil {
		t.Fatalf("the printed secret does not mint: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, server.PendingSecretFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the pending secret stays after it was printed: %v", err)
	}
}

// waitFor waits until r's stdout holds s and returns it.
func waitFor(t *testing.T, r *running, s string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(r.stdout.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("stdout lacks %q within 30s:\n%s", s, r.stdout)
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
	return r.stdout.String()
}
