package jwks

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/sealing"
)

var allAlgs = []string{ES256, RS256, EdDSA}

func TestSealOpenRoundTrip(t *testing.T) {
	master := masterKey(t)
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			priv, err := Generate(alg, 0)
			if err != nil {
				t.Fatal(err)
			}
			kid := NewKID()
			sealed, err := Seal(master, kid, priv)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			der, _ := x509.MarshalPKCS8PrivateKey(priv)
			if raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:")); len(raw) < len(der) || bytes.Contains(raw, der) {
				t.Fatal("the sealed key contains the PKCS#8 DER in the clear")
			}
			got, err := Open(master, kid, sealed)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			gotDER, _ := x509.MarshalPKCS8PrivateKey(got)
			if !bytes.Equal(gotDER, der) {
				t.Fatal("Open returned another key than Seal was given")
			}
		})
	}
}

func TestSealIsRandomized(t *testing.T) {
	master := masterKey(t)
	priv, _ := Generate(ES256, 0)
	a, _ := Seal(master, "k", priv)
	b, _ := Seal(master, "k", priv)
	if a == b {
		t.Fatal("two seals of one key are equal: the nonce is not random")
	}
}

func TestOpenDetectsTampering(t *testing.T) {
	master := masterKey(t)
	priv, _ := Generate(ES256, 0)
	sealed, err := Seal(master, "key_a", priv)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
	flipped := bytes.Clone(raw)
	flipped[len(flipped)/2] ^= 1
	for _, c := range []struct {
		name, kid, sealed string
		master            *sealing.Sealer
	}{
		{"wrong kid (AAD)", "key_b", sealed, master},
		{"wrong master key", "key_a", sealed, masterKey(t)},
		{"flipped ciphertext bit", "key_a", "v1:" + base64.StdEncoding.EncodeToString(flipped), master},
		{"truncated", "key_a", "v1:" + base64.StdEncoding.EncodeToString(raw[:20]), master},
		{"not base64", "key_a", "!!" + sealed, master},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Open(c.master, c.kid, c.sealed); !errors.Is(err, sealing.ErrSealed) {
				t.Fatalf("Open = %v, want sealing.ErrSealed", err)
			}
		})
	}
}

// TestSealerPurpose: a keyring opens signing keys only with the signing
// keys' sealer.
func TestSealerPurpose(t *testing.T) {
	keys, _ := sealing.New(make([]byte, sealing.MasterKeySize))
	for _, s := range []*sealing.Sealer{nil, keys.Purpose(sealing.WebhookSecret), keys.Purpose(sealing.IdempotencyAnswer)} {
		if _, err := NewKeyring(s, nil); !errors.Is(err, errPurpose) {
			t.Errorf("NewKeyring with the sealer %v = %v, want errPurpose", s, err)
		}
	}
}

func TestGenerate(t *testing.T) {
	for _, c := range []struct {
		alg  string
		bits int
		ok   bool
	}{
		{ES256, 0, true}, {RS256, 0, true}, {RS256, 3072, true}, {EdDSA, 0, true},
		{RS256, 1024, false}, {RS256, 4096, false}, {"HS256", 0, false}, {"none", 0, false}, {"", 0, false},
	} {
		priv, err := Generate(c.alg, c.bits)
		if (err == nil) != c.ok {
			t.Errorf("Generate(%q, %d) error = %v, want ok=%v", c.alg, c.bits, err, c.ok)
			continue
		}
		if c.ok {
			if err := checkAlg(c.alg, priv); err != nil {
				t.Errorf("Generate(%q, %d): %v", c.alg, c.bits, err)
			}
		}
	}
}

func TestNewKIDIsURLSafeAndUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		kid := NewKID()
		if seen[kid] {
			t.Fatalf("kid %s repeated", kid)
		}
		seen[kid] = true
		for _, r := range kid {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				t.Fatalf("kid %q has %q, not URL-safe", kid, r)
			}
		}
	}
}
