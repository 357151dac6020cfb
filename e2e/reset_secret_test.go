package e2e

import (
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// Issue 12 point 9: an operator with the master key and the log resets the
// bootstrap admin's secret with `gatehouse admin reset-secret`: the new
// secret, printed once, mints; the old one no longer does.
func TestAdminResetSecret(t *testing.T) {
	s := startServer(t)
	if err := s.stop(); err != nil { // the embedded log is in the data directory
		t.Fatal(err)
	}
	cmd := exec.Command(s.bin, "admin", "reset-secret")
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("reset-secret: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`client_secret: (\S+)`).FindSubmatch(out)
	if m == nil || strings.Contains(string(out), adminSecret) {
		t.Fatalf("reset-secret printed no new secret (or the old one):\n%s", out)
	}
	secret := string(m[1])
	s.restart(t)
	hc := from("127.0.0.1")
	if st, code, _ := mint(t, hc, s, adminID, adminSecret); st != http.StatusUnauthorized {
		t.Fatalf("the old secret: %d %s, want 401", st, code)
	}
	if st, code, _ := mint(t, hc, s, adminID, secret); st != http.StatusOK {
		t.Fatalf("the new secret: %d %s, want a token", st, code)
	}
	if strings.Contains(s.stdout(), secret) {
		t.Fatal("the server printed the new secret")
	}
}
