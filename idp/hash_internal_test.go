package idp

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"strings"
	"testing"
)

// TestHashesAsBefore: hashOf and halfHash give the bytes of the plain
// computation (sha256.Sum256 of the string's bytes, base64url) for
// signatures, JWT-long tokens and strings longer than the stack copy,
// and at_hash for every algorithm (OIDC Core §3.1.3.6: the left half).
func TestHashesAsBefore(t *testing.T) {
	for _, s := range []string{"", "x", strings.Repeat("a", 43), strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("eyJ0", 180), strings.Repeat("z", 2048), strings.Repeat("z", 2049), strings.Repeat("é", 3000)} {
		sum := sha256.Sum256([]byte(s))
		if got, want := hashOf(s), base64.RawURLEncoding.EncodeToString(sum[:]); got != want {
			t.Fatalf("hashOf of %d bytes: %s, want %s", len(s), got, want)
		}
		if got, want := halfHash("ES256", s), base64.RawURLEncoding.EncodeToString(sum[:16]); got != want {
			t.Fatalf("ES256 at_hash of %d bytes: %s, want %s", len(s), got, want)
		}
		s384 := sha512.Sum384([]byte(s))
		if got, want := halfHash("ES384", s), base64.RawURLEncoding.EncodeToString(s384[:24]); got != want {
			t.Fatalf("ES384 at_hash: %s, want %s", got, want)
		}
		s512 := sha512.Sum512([]byte(s))
		if got, want := halfHash("EdDSA", s), base64.RawURLEncoding.EncodeToString(s512[:32]); got != want {
			t.Fatalf("EdDSA at_hash: %s, want %s", got, want)
		}
	}
	tok := strings.Repeat("eyJhbGciOiJFUzI1NiJ9", 30)
	if n := testing.AllocsPerRun(100, func() { _ = hashOf(tok); _ = halfHash("ES256", tok) }); n > 2 {
		t.Fatalf("%.0f allocations for hashOf and an ES256 at_hash, want 2 (their strings)", n)
	}
}
