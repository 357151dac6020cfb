package authz

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/sealing"
)

// TestIdempotencyFingerprint: a body's fingerprint is keyed by the
// master key (another master key gives another one, so the log alone does
// not let a body be guessed), matches its own body only, and a record an
// earlier release wrote (the plain SHA-256) still matches its body, so a
// repeat sent across an upgrade replays instead of getting 422.
func TestIdempotencyFingerprint(t *testing.T) {
	idem := func(b byte) *Idempotency {
		keys, err := sealing.New(bytes.Repeat([]byte{b}, sealing.MasterKeySize))
		if err != nil {
			t.Fatal(err)
		}
		i, err := NewIdempotency(Idempotency{}, keys)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	i, other := idem(1), idem(2)
	body, changed := []byte(`{"password":"violet-harbour-lantern-42"}`), []byte(`{"password":"violet-harbour-lantern-43"}`)
	fp := i.fingerprint(body)
	sum := sha256.Sum256(body)
	legacy := base64.StdEncoding.EncodeToString(sum[:])
	switch {
	case strings.Contains(fp, legacy):
		t.Fatalf("fingerprint %q is the body's plain SHA-256", fp)
	case fp == other.fingerprint(body):
		t.Fatal("two master keys give one fingerprint")
	case !i.sameBody(fp, body) || i.sameBody(fp, changed):
		t.Fatal("a keyed fingerprint does not tell its body from another")
	case !i.sameBody(legacy, body) || i.sameBody(legacy, changed):
		t.Fatal("a legacy fingerprint does not tell its body from another")
	case other.sameBody(fp, body):
		t.Fatal("a fingerprint matches under another master key")
	}
}
