package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/sealing"
)

// TestPendingSecretOpensVersion0: a bootstrap-secret.pending left by the
// release before package sealing (jwks.SealBytes under the raw master key
// 0, 1, …, 31, written by commit 6b4ddbc) still resumes; a new one is
// sealed in version 1 and resumes too.
func TestPendingSecretOpensVersion0(t *testing.T) {
	master := make([]byte, sealing.MasterKeySize)
	for i := range master {
		master[i] = byte(i)
	}
	keys, err := sealing.New(master)
	if err != nil {
		t.Fatal(err)
	}
	s := keys.Purpose(sealing.BootstrapSecret)
	dir := t.TempDir()
	const v0 = "D1pdEd4r18iMW3teEBh/XU+PPM4UfnxzcIwKnSLSfb9R2y6RuW/DjIcf87CF7P4gMM8T6f3m"
	if err := os.WriteFile(filepath.Join(dir, PendingSecretFile), []byte(v0), 0o600); err != nil {
		t.Fatal(err)
	}
	secret, resumed, err := pendingSecret(dir, s)
	if err != nil || !resumed || secret != "ghcs_legacy-pending-secret" {
		t.Fatalf("pendingSecret(version 0) = %q, %v, %v", secret, resumed, err)
	}

	fresh := t.TempDir()
	secret, resumed, err = pendingSecret(fresh, s)
	if err != nil || resumed || !strings.HasPrefix(secret, "ghcs_") {
		t.Fatalf("pendingSecret(new) = %q, %v, %v", secret, resumed, err)
	}
	b, err := os.ReadFile(filepath.Join(fresh, PendingSecretFile))
	if err != nil || !strings.HasPrefix(string(b), "v1:") || strings.Contains(string(b), secret) {
		t.Fatalf("the new pending file is %q (%v): want a v1 sealed value", b, err)
	}
	again, resumed, err := pendingSecret(fresh, s)
	if err != nil || !resumed || again != secret {
		t.Fatalf("pendingSecret(resume) = %q, %v, %v; want %q", again, resumed, err, secret)
	}
	// Another purpose's key does not open it.
	if _, _, err := pendingSecret(fresh, keys.Purpose(sealing.WebhookSecret)); err == nil {
		t.Fatal("the pending secret opened with the webhook secrets' key")
	}
}
