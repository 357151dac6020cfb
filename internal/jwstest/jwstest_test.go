package jwstest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
)

// TestEd25519: the three parts are the header and claims as JSON and a
// signature the key's public half verifies over the first two.
func TestEd25519(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	raw, err := Ed25519(priv, map[string]string{"alg": "Ed25519"}, map[string]string{"sub": "c1"})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("%q has %d parts", raw, len(parts))
	}
	for i, want := range []string{`{"alg":"Ed25519"}`, `{"sub":"c1"}`} {
		if got, _ := base64.RawURLEncoding.DecodeString(parts[i]); string(got) != want {
			t.Errorf("part %d = %s, want %s", i, got, want)
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		t.Errorf("signature does not verify: %v", err)
	}
	if _, err := Ed25519(priv, map[string]any{"x": func() {}}, nil); err == nil {
		t.Error("a header JSON cannot encode: no error")
	}
}
