package sealing_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/sealing"
)

// testMaster is 0, 1, …, 31: the master key the version 0 vectors below
// were sealed with.
func testMaster() []byte {
	k := make([]byte, sealing.MasterKeySize)
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

func testKeys(t testing.TB) *sealing.Keys {
	t.Helper()
	k, err := sealing.New(testMaster())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var purposes = []sealing.Purpose{sealing.SigningKey, sealing.WebhookSecret, sealing.IdempotencyAnswer, sealing.BootstrapSecret}

func TestRoundTrip(t *testing.T) {
	k := testKeys(t)
	for _, p := range purposes {
		s := k.Purpose(p)
		for _, plain := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("secret "), 1000)} {
			sealed, err := s.Seal("rec-1", plain)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(sealed, "v1:") {
				t.Fatalf("%s: sealed %q has no v1 marker", p, sealed)
			}
			if len(plain) > 0 && strings.Contains(sealed, base64.StdEncoding.EncodeToString(plain)) {
				t.Fatalf("%s: the plaintext shows through", p)
			}
			got, err := s.Open("rec-1", sealed)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("%s: Open = %q, %v", p, got, err)
			}
			// Another Keys of the same master key opens it too: the keys
			// are derived, not random.
			if got, err := testKeys(t).Purpose(p).Open("rec-1", sealed); err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("%s: Open by a fresh Keys = %q, %v", p, got, err)
			}
		}
	}
	a, _ := k.Purpose(sealing.WebhookSecret).Seal("r", []byte("same"))
	b, _ := k.Purpose(sealing.WebhookSecret).Seal("r", []byte("same"))
	if a == b {
		t.Fatal("two seals of one plaintext are equal: the nonce is not random")
	}
}

// TestOpenRefuses: a value opens only for its purpose, its record and its
// master key, unaltered.
func TestOpenRefuses(t *testing.T) {
	k := testKeys(t)
	s := k.Purpose(sealing.WebhookSecret)
	sealed, err := s.Seal("wh_1/whs_1", []byte("the secret"))
	if err != nil {
		t.Fatal(err)
	}
	other := testMaster()
	other[0] ^= 1
	otherKeys, _ := sealing.New(other)
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
	tamper := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 0x80
		return "v1:" + base64.StdEncoding.EncodeToString(b)
	}
	cases := map[string]struct {
		s         *sealing.Sealer
		aad, text string
	}{
		"wrong aad":              {s, "wh_1/whs_2", sealed},
		"empty aad":              {s, "", sealed},
		"wrong purpose":          {k.Purpose(sealing.SigningKey), "wh_1/whs_1", sealed},
		"unknown purpose":        {k.Purpose("other"), "wh_1/whs_1", sealed},
		"wrong master key":       {otherKeys.Purpose(sealing.WebhookSecret), "wh_1/whs_1", sealed},
		"tampered nonce":         {s, "wh_1/whs_1", tamper(0)},
		"tampered ciphertext":    {s, "wh_1/whs_1", tamper(13)},
		"tampered tag":           {s, "wh_1/whs_1", tamper(len(raw) - 1)},
		"truncated":              {s, "wh_1/whs_1", sealed[:len(sealed)-8]},
		"unknown version":        {s, "wh_1/whs_1", "v2:" + strings.TrimPrefix(sealed, "v1:")},
		"marker removed":         {s, "wh_1/whs_1", strings.TrimPrefix(sealed, "v1:")},
		"not base64":             {s, "wh_1/whs_1", "v1:%%%%"},
		"empty":                  {s, "wh_1/whs_1", ""},
		"version 0, no legacy":   {k.Purpose("other"), "wh_1/whs_1", legacyWebhook},
		"version 0, wrong aad":   {s, "wh_legacy/whs_other", legacyWebhook},
		"version 0, wrong purp.": {k.Purpose(sealing.IdempotencyAnswer), "wh_legacy/whs_legacy", legacyWebhook},
	}
	for name, c := range cases {
		got, err := c.s.Open(c.aad, c.text)
		if !errors.Is(err, sealing.ErrSealed) || got != nil {
			t.Errorf("%s: Open = %q, %v; want ErrSealed", name, got, err)
			continue
		}
		if strings.Contains(err.Error(), "the secret") || strings.Contains(err.Error(), c.text[min(3, len(c.text)):]) && len(c.text) > 8 {
			t.Errorf("%s: the error %q shows the value", name, err)
		}
	}
}

// Version 0 vectors, written by the release before this package
// (commit 6b4ddbc) with testMaster: jwks.SealBytes (raw master key) for
// webhook secrets, signing keys and the pending bootstrap secret, and
// authz.Idempotency.seal (HKDF info "gatehouse idempotency v1") for
// idempotent answers.
const (
	legacyWebhook   = "cjlybOJj+9QK+9Nsf2IHftkl6TjPQdj5/mH54gBEYucjrXPlkZog/KUDUFHlLMk2qujC"
	legacyPending   = "D1pdEd4r18iMW3teEBh/XU+PPM4UfnxzcIwKnSLSfb9R2y6RuW/DjIcf87CF7P4gMM8T6f3m"
	legacyIdem      = "7HSu337O9bd4JjpjaT57IiNYYFGcHP7QnDY9cfJbHi81VzEMVl4dlXKWwKkVkt8wkUSNlZ4T3CZ6PBc="
	legacyIdemAAD   = "default/idem/idem-legacy"
	legacyIdemPlain = `{"client_secret":"ghcs_legacy"}`
)

func TestOpenVersion0(t *testing.T) {
	k := testKeys(t)
	cases := []struct {
		p              sealing.Purpose
		aad, sealed, w string
	}{
		{sealing.WebhookSecret, "wh_legacy/whs_legacy", legacyWebhook, "legacy webhook hmac key"},
		{sealing.BootstrapSecret, "gatehouse bootstrap admin secret v1", legacyPending, "ghcs_legacy-pending-secret"},
		{sealing.IdempotencyAnswer, legacyIdemAAD, legacyIdem, legacyIdemPlain},
	}
	for _, c := range cases {
		got, err := k.Purpose(c.p).Open(c.aad, c.sealed)
		if err != nil || string(got) != c.w {
			t.Errorf("%s: Open(version 0) = %q, %v; want %q", c.p, got, err, c.w)
		}
	}
	// The signing keys' version 0 was the same raw-master-key format as
	// the webhook secrets' (jwks.Seal called jwks.SealBytes).
	if got, err := k.Purpose(sealing.SigningKey).Open("wh_legacy/whs_legacy", legacyWebhook); err != nil || string(got) != "legacy webhook hmac key" {
		t.Errorf("signing key: Open(version 0) = %q, %v", got, err)
	}
	// A value sealed now is version 1, not the legacy format.
	sealed, _ := k.Purpose(sealing.WebhookSecret).Seal("wh_legacy/whs_legacy", []byte("x"))
	if v, _, ok := sealing.Version(sealed); !ok || v != 1 {
		t.Errorf("new value has version %d (%v)", v, ok)
	}
}

func TestVersion(t *testing.T) {
	for _, c := range []struct {
		in, body string
		v        int
		ok       bool
	}{
		{"v1:QUJD", "QUJD", 1, true},
		{"QUJD", "QUJD", 0, true},
		{"", "", 0, true},
		{"v2:QUJD", "", 0, false},
		{"v1", "v1", 0, true},
		{":QUJD", "", 0, false},
		{"V1:QUJD", "", 0, false},
	} {
		v, body, ok := sealing.Version(c.in)
		if v != c.v || body != c.body || ok != c.ok {
			t.Errorf("Version(%q) = %d, %q, %v; want %d, %q, %v", c.in, v, body, ok, c.v, c.body, c.ok)
		}
	}
}

func TestMasterKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := sealing.New(make([]byte, n)); !errors.Is(err, sealing.ErrMasterKey) {
			t.Errorf("New with %d bytes = %v, want ErrMasterKey", n, err)
		}
	}
}

// TestKeysDerived: the labelled keys are HKDF-SHA256 of the master key
// (known answers of the release before this package, which computed them
// with crypto/hkdf and the same labels), distinct from each other, and the
// caller's copy of the master key is not kept.
func TestKeysDerived(t *testing.T) {
	master := testMaster()
	k, _ := sealing.New(master)
	clear(master)
	hmacKey, global := k.Key(sealing.ClientSecretHMAC), k.Key(sealing.FositeGlobalSecret)
	if len(hmacKey) != 32 || len(global) != 32 || bytes.Equal(hmacKey, global) {
		t.Fatalf("derived keys: %x %x", hmacKey, global)
	}
	if got := base64.StdEncoding.EncodeToString(hmacKey); got != knownClientSecretHMAC {
		t.Errorf("client-secret HMAC key = %s, want %s", got, knownClientSecretHMAC)
	}
	if got := base64.StdEncoding.EncodeToString(global); got != knownFositeGlobal {
		t.Errorf("fosite global secret = %s, want %s", got, knownFositeGlobal)
	}
}

const (
	knownClientSecretHMAC = "kIja/kMf4+8Gi6r/mGJuY7hNxam5jLlhzvbiiFXI9/s="
	knownFositeGlobal     = "bBLqOs8vJLqc712PjL+UW9C+o0TeVAMZ97DnS68BYoc="
)

// TestNoKeyMaterialPrinted: fmt and slog show neither the master key nor
// a derived key.
func TestNoKeyMaterialPrinted(t *testing.T) {
	k := testKeys(t)
	s := k.Purpose(sealing.SigningKey)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "keys", k, "sealer", s)
	out := fmt.Sprintf("%v %+v %#v %s %x %v %+v %#v %x", k, k, k, k, k, s, s, s, s) + buf.String()
	master := testMaster()
	for _, enc := range []string{string(master), fmt.Sprintf("%x", master), fmt.Sprint(master), base64.StdEncoding.EncodeToString(master)} {
		if strings.Contains(out, enc) {
			t.Fatalf("key material printed: %s", out)
		}
	}
	if !strings.Contains(out, "redacted") || !strings.Contains(out, "signing-key") {
		t.Fatalf("unexpected rendering: %s", out)
	}
}

func FuzzOpen(f *testing.F) {
	k := testKeys(f)
	s := k.Purpose(sealing.IdempotencyAnswer)
	good, _ := s.Seal("aad", []byte("plain"))
	f.Add(legacyIdemAAD, legacyIdem)
	for _, seed := range []string{good, "", "v1:", "v2:AAAA", "AAAA", strings.Repeat("A", 40), "v1:" + strings.Repeat("A", 40)} {
		f.Add("aad", seed)
	}
	f.Fuzz(func(t *testing.T, aad, sealed string) {
		plain, err := s.Open(aad, sealed)
		if err != nil {
			if !errors.Is(err, sealing.ErrSealed) || plain != nil {
				t.Fatalf("Open = %q, %v", plain, err)
			}
			return
		}
		// Whatever opens is authentic: a seed's plaintext for its aad
		// (base64 decoding skips line breaks, so the text may differ).
		if (aad != "aad" || string(plain) != "plain") && (aad != legacyIdemAAD || string(plain) != legacyIdemPlain) {
			t.Fatalf("Open(%q, %q) = %q: a forgery opened", aad, sealed, plain)
		}
	})
}
