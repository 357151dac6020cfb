package vault

import (
	"bytes"
	"testing"
)

// TestTokenSetEncoding: the binary plaintext round-trips (empty refresh
// token, long tokens), JSON written before it still opens, and a
// truncated, padded or unknown plaintext is refused.
func TestTokenSetEncoding(t *testing.T) {
	long := string(bytes.Repeat([]byte("x"), 300))
	for _, ts := range []tokenSet{{AccessToken: "at", RefreshToken: "rt"}, {AccessToken: long}, {AccessToken: "a", RefreshToken: long}} {
		b := encodeTokenSet(ts)
		got, err := decodeTokenSet(b)
		if err != nil || got != ts {
			t.Fatalf("round trip of %d/%d bytes: %v %v", len(ts.AccessToken), len(ts.RefreshToken), got == ts, err)
		}
		if len(b) > len(ts.AccessToken)+len(ts.RefreshToken)+5 {
			t.Fatalf("%d bytes of framing", len(b)-len(ts.AccessToken)-len(ts.RefreshToken))
		}
		for _, bad := range [][]byte{b[:len(b)-1], append(bytes.Clone(b), 0), append([]byte{0x02}, b[1:]...), {}} {
			if _, err := decodeTokenSet(bad); err == nil {
				t.Fatalf("malformed plaintext %x accepted", bad)
			}
		}
	}
	got, err := decodeTokenSet([]byte(`{"access_token":"old","refresh_token":"r"}`))
	if err != nil || got.AccessToken != "old" || got.RefreshToken != "r" {
		t.Fatalf("an older JSON token set: %+v %v", got, err)
	}
}
