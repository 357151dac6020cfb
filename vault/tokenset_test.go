package vault

import (
	"bytes"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/projections"
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

// TestCarried: a state carries the current token set and the newest
// holding a refresh token, whatever order they come in, each once.
func TestCarried(t *testing.T) {
	v := func(n int, rt bool) projections.CredentialVersion {
		return projections.CredentialVersion{Version: n, HasRefreshToken: rt}
	}
	for _, tc := range []struct {
		in      []projections.CredentialVersion
		current int
		want    []int
	}{
		{[]projections.CredentialVersion{v(1, true), v(2, false), v(3, true)}, 2, []int{2, 3}},
		{[]projections.CredentialVersion{v(3, true), v(1, true)}, 1, []int{3, 1}},
		{[]projections.CredentialVersion{v(1, false), v(2, false)}, 2, []int{2}},
		{[]projections.CredentialVersion{v(4, true), v(4, true)}, 4, []int{4}},
	} {
		got := carried(tc.in, tc.current)
		var ns []int
		for _, x := range got {
			ns = append(ns, x.Version)
		}
		if !slices.Equal(ns, tc.want) {
			t.Fatalf("carried(%v, current %d) = %v, want %v", tc.in, tc.current, ns, tc.want)
		}
	}
}
