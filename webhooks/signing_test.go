package webhooks_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/gatehouse/gatehouse/webhooks"
)

// The example of the Standard Webhooks reference libraries' tests.
const (
	specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specBody   = `{"test": 2432232314}`
	specSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var specTime = time.Unix(1614265330, 0)

func TestSignMatchesTheSpecificationExample(t *testing.T) {
	key, err := webhooks.ParseSecret(specSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got := webhooks.Sign(specID, specTime, []byte(specBody), key); got != specSig {
		t.Errorf("Sign = %q, want %q", got, specSig)
	}
	// Sub-second precision does not change the signed timestamp.
	if got := webhooks.Sign(specID, specTime.Add(999*time.Millisecond), []byte(specBody), key); got != specSig {
		t.Errorf("Sign at .999s = %q, want %q", got, specSig)
	}
	if got := webhooks.Sign(specID, specTime, []byte(specBody)); got != "" {
		t.Errorf("Sign without a key = %q, want empty", got)
	}
}

func TestNewSecret(t *testing.T) {
	s, key := webhooks.NewSecret()
	b64, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		t.Fatalf("secret %q lacks whsec_", s)
	}
	if raw, err := base64.StdEncoding.DecodeString(b64); err != nil || !bytes.Equal(raw, key) || len(key) != 32 {
		t.Fatalf("secret %q: %v, key of %d bytes", s, err, len(key))
	}
	if parsed, err := webhooks.ParseSecret(s); err != nil || !bytes.Equal(parsed, key) {
		t.Fatalf("ParseSecret(NewSecret()): %v", err)
	}
	if s2, _ := webhooks.NewSecret(); s2 == s {
		t.Fatal("two secrets are equal")
	}
}

func TestParseSecretRefusesBadSecrets(t *testing.T) {
	for _, s := range []string{
		"",
		"whsec_",
		base64.StdEncoding.EncodeToString(make([]byte, 32)),                          // no prefix
		"WHSEC_" + base64.StdEncoding.EncodeToString(make([]byte, 32)),               // wrong prefix
		"whsec_" + base64.RawStdEncoding.EncodeToString(make([]byte, 32)),            // unpadded
		"whsec_" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), // URL alphabet
		"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 23)),               // too short
		"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65)),               // too long
		"whsec_not base64!",
	} {
		if _, err := webhooks.ParseSecret(s); err == nil {
			t.Errorf("ParseSecret(%q) accepted it", s)
		}
	}
	for _, n := range []int{24, 64} {
		if _, err := webhooks.ParseSecret("whsec_" + base64.StdEncoding.EncodeToString(make([]byte, n))); err != nil {
			t.Errorf("a key of %d bytes: %v", n, err)
		}
	}
}

// TestSignVerifiesWithStandardWebhooks checks the headers with the
// Standard Webhooks reference library: each of two live secrets alone
// verifies a request signed with both; a changed body, id or timestamp,
// or a secret that did not sign, does not.
func TestSignVerifiesWithStandardWebhooks(t *testing.T) {
	s1, k1 := webhooks.NewSecret()
	s2, k2 := webhooks.NewSecret()
	other, _ := webhooks.NewSecret()
	body := []byte(`{"type":"case.updated","timestamp":"2026-11-22T10:00:00Z","data":{"id":1}}`)
	now := time.Now()
	h := webhooks.Headers("msg_1", now, body, k1, k2)
	if got := strings.Fields(h.Get("webhook-signature")); len(got) != 2 {
		t.Fatalf("webhook-signature %q: want two signatures", h.Get("webhook-signature"))
	}
	if h.Get("webhook-id") != "msg_1" || h.Get("webhook-timestamp") != strconv.FormatInt(now.Unix(), 10) || h.Get("content-type") != "application/json" {
		t.Fatalf("headers %v", h)
	}
	verifier := func(secret string) *standardwebhooks.Webhook {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		return wh
	}
	for _, s := range []string{s1, s2} {
		if err := verifier(s).Verify(body, h); err != nil {
			t.Errorf("one of two live secrets: %v", err)
		}
	}
	changed := func(key, value string) http.Header {
		c := h.Clone()
		c.Set(key, value)
		return c
	}
	for name, tc := range map[string]struct {
		secret string
		body   []byte
		h      http.Header
	}{
		"changed body":       {s1, append(bytes.Clone(body), ' '), h},
		"changed id":         {s1, body, changed("webhook-id", "msg_2")},
		"changed timestamp":  {s1, body, changed("webhook-timestamp", strconv.FormatInt(now.Unix()-1, 10))},
		"a secret not used":  {other, body, h},
		"one signature only": {s2, body, webhooks.Headers("msg_1", now, body, k1)},
	} {
		if err := verifier(tc.secret).Verify(tc.body, tc.h); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	_, k1 := webhooks.NewSecret()
	_, k2 := webhooks.NewSecret()
	body := bytes.Repeat([]byte(`{"k":"v"}`), 114) // about 1 KiB
	ts := time.Now()
	for _, tc := range []struct {
		name string
		keys [][]byte
	}{{"1key", [][]byte{k1}}, {"2keys", [][]byte{k1, k2}}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				_ = webhooks.Sign("msg_2tqN3tlTSjuB1J9cqNvJOzLPTHy", ts, body, tc.keys...)
			}
		})
	}
}
