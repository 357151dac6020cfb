package keyedmac_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/keyedmac"
)

// TestSumIsHMAC: the pooled MAC is crypto/hmac's, for two hashes and two
// keys, from concurrent goroutines reusing the pooled states.
func TestSumIsHMAC(t *testing.T) {
	for _, h := range []func() hash.Hash{sha256.New, sha512.New512_256} {
		for _, key := range [][]byte{[]byte("key one"), bytes.Repeat([]byte{7}, 200)} {
			m := keyedmac.New(h, key)
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 200 {
						data := fmt.Appendf(nil, "data %d/%d", g, i)
						want := hmac.New(h, key)
						want.Write(data)
						if got := m.Sum([]byte("prefix"), data); !bytes.Equal(got, append([]byte("prefix"), want.Sum(nil)...)) {
							t.Errorf("Sum(%q) = %x, want prefix + %x", data, got, want.Sum(nil))
							return
						}
					}
				})
			}
			wg.Wait()
		}
	}
}
