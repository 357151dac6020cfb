package identity

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/sealing"
)

// TestSealedHash: the stored value is the PHC string sealed for the user
// id (it opens for that id only, and verifies the password); with every
// hashing slot taken, the caller gets 503 once the wait ends.
func TestSealedHash(t *testing.T) {
	keys, err := sealing.New(bytes.Repeat([]byte{7}, sealing.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	u := &Users{Hasher: NewHasher(1, 20*time.Millisecond), Sealer: keys.Purpose(sealing.PasswordHash)}
	sealed, err := u.sealedHash(t.Context(), "user_1", "violet-harbour-lantern-42")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "argon2id") || !strings.HasPrefix(sealed, "v1:") {
		t.Fatalf("sealed value %q", sealed)
	}
	if _, err := u.Sealer.Open("user_2", sealed); err == nil {
		t.Fatal("the sealed hash opens for another user id")
	}
	phc, err := u.Sealer.Open("user_1", sealed)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Hasher.Verify(t.Context(), string(phc), "violet-harbour-lantern-42"); err != nil {
		t.Fatalf("the sealed hash does not verify the password: %v", err)
	}

	release, err := u.Hasher.acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	_, err = u.sealedHash(t.Context(), "user_1", "violet-harbour-lantern-42")
	var p *httpapi.Problem
	if !errors.As(err, &p) || p.Status != http.StatusServiceUnavailable || !errors.Is(err, ErrBusy) {
		t.Fatalf("with no slot free: %v, want 503 wrapping ErrBusy", err)
	}
}

func TestNormalizeRolesAndEmail(t *testing.T) {
	if got, msg := normalizeRoles([]string{"member", "admin", "member"}); msg != "" || strings.Join(got, ",") != "admin,member" {
		t.Fatalf("normalizeRoles = %v %q", got, msg)
	}
	for _, bad := range [][]string{{}, {"owner"}, {"admin", "root"}} {
		if _, msg := normalizeRoles(bad); msg == "" {
			t.Errorf("normalizeRoles(%v) accepted", bad)
		}
	}
	for email, ok := range map[string]bool{
		"ada@example.com": true, "Ada <ada@example.com>": false, "ada": false, "": false,
		"a@b.c, d@e.f": false, strings.Repeat("a", 250) + "@x.io": false,
	} {
		if got := checkEmail(email) == ""; got != ok {
			t.Errorf("checkEmail(%q) ok = %v, want %v", email, got, ok)
		}
	}
}
