package idp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/keyedmac"
)

// TestMACPooled: mac through a keyedmac.MAC's pooled hashes is the HMAC of
// the value under the key, whatever value the pooled hash last saw,
// from many goroutines at once, and another key gives another MAC.
func TestMACPooled(t *testing.T) {
	key, other := []byte("session-key-0123456789abcdef"), []byte("csrf-key")
	want := func(k []byte, v string) string {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(v))
		return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	km, ko := keyedmac.New(sha256.New, key), keyedmac.New(sha256.New, other)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				v := strconv.Itoa(g) + "-" + strconv.Itoa(i) + "-cookie-secret"
				if got := mac(km, v); got != want(key, v) {
					t.Errorf("mac(%q) = %s, want %s", v, got, want(key, v))
					return
				}
				if got := mac(ko, v); got != want(other, v) || got == mac(km, v) {
					t.Errorf("mac under the other key of %q = %s, want %s", v, got, want(other, v))
					return
				}
			}
		})
	}
	wg.Wait()
}
