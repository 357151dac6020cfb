package identity

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

func TestHashVerify(t *testing.T) {
	h := NewHasher(2, time.Second)
	phc, err := h.Hash(t.Context(), "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Fatalf("PHC string %q", phc)
	}
	if err := h.Verify(t.Context(), phc, "correct horse battery staple"); err != nil {
		t.Fatalf("the right password: %v", err)
	}
	if err := h.Verify(t.Context(), phc, "correct horse battery stapler"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("a wrong password: %v", err)
	}
	again, _ := h.Hash(t.Context(), "correct horse battery staple")
	if again == phc {
		t.Fatal("two hashes of one password are equal: no fresh salt")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$dGFnZ3RhZ2d0YWdndGFnZw", strings.Replace(phc, "m=65536", "m=99999999", 1), strings.Replace(phc, "v=19", "v=16", 1), phc[:len(phc)-30]} {
		if err := h.Verify(t.Context(), bad, "x"); err == nil || errors.Is(err, ErrMismatch) {
			t.Errorf("Verify(%q) = %v, want a parse error", bad, err)
		}
	}
}

// TestVerifyOtherParameters: a stored hash verifies with its own
// parameters (here m=8 KiB, t=1, p=1, built independently), not the
// current ones.
func TestVerifyOtherParameters(t *testing.T) {
	tag := argon2.IDKey([]byte("password"), []byte("somesalt"), 1, 8, 1, 32)
	phc := "$argon2id$v=19$m=8,t=1,p=1$" + base64.RawStdEncoding.EncodeToString([]byte("somesalt")) + "$" + base64.RawStdEncoding.EncodeToString(tag)
	h := NewHasher(1, time.Second)
	if err := h.Verify(t.Context(), phc, "password"); err != nil {
		t.Fatalf("the right password: %v", err)
	}
	if err := h.Verify(t.Context(), phc, "Password"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("a wrong password: %v", err)
	}
}

// TestHasherBound: with every slot taken, a caller waits at most the wait
// and gets ErrBusy; once a slot frees, it gets it.
func TestHasherBound(t *testing.T) {
	h := NewHasher(1, 50*time.Millisecond)
	release, err := h.acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := h.Hash(t.Context(), "some long password"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash with no slot free: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("waited %v", d)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := h.Verify(ctx, "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$E9Nxg0w3qSOKiYFq7K6Yq2KzWb4a2Y1Vb9uX0g0Zxjw", "x"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify of a caller gone: %v", err)
	}
	release()
	if _, err := h.Hash(t.Context(), "some long password"); err != nil {
		t.Fatalf("Hash after the slot freed: %v", err)
	}
}

// TestHasherConcurrency: never more than Limit hashes at once.
func TestHasherConcurrency(t *testing.T) {
	h := NewHasher(2, time.Minute)
	var wg sync.WaitGroup
	var mu sync.Mutex
	peak := 0
	for range 6 {
		wg.Go(func() {
			release, err := h.acquire(t.Context())
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			peak = max(peak, len(h.slots))
			mu.Unlock()
			time.Sleep(time.Millisecond) // hold the slot a moment, as a hash would
			release()
		})
	}
	wg.Wait()
	if peak > 2 || h.Limit() != 2 {
		t.Fatalf("peak %d slots of %d", peak, h.Limit())
	}
}

func TestCheckPassword(t *testing.T) {
	const email = "Ada.Lovelace@example.com"
	for pw, ok := range map[string]bool{
		"tr0ub4dor&3-horse":              true,
		"ada lovelace was first in 1843": true,
		"short1!":                        false,
		"elevenchars":                    false,
		"ada.lovelace@example.com":       false,
		"ADA.LOVELACE1":                  false, // the local part
		"aaaaaaaaaaaaaaaa":               false,
		"abcabcabcabcabc":                false,
		"abababababab1":                  false, // few distinct characters
		"abcdefghijklmno":                false,
		"987654321098":                   false,
		"qwertyuiopasd":                  false,
		"Password1234":                   false, // in the embedded list
		"iloveyouiloveyou":               false,
		"Sunshine2019":                   false, // not in the list; zxcvbn: a word and a year
		"dragonfly1988":                  false,
		"violet-harbour-lantern-42":      true,
		strings.Repeat("x7Kq", 65):       false, // longer than 256
	} {
		if got := CheckPassword(pw, email); (got == "") != ok {
			t.Errorf("CheckPassword(%q) = %q, want ok=%v", pw, got, ok)
		}
	}
	if n := len(commonPasswords); n < 50 {
		t.Fatalf("the embedded list has %d entries", n)
	}
}

// BenchmarkHash is the cost of one password hash at the parameters of
// new hashes.
func BenchmarkHash(b *testing.B) {
	h := NewHasher(1, time.Minute)
	for b.Loop() {
		if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}
