package proxy

import (
	"math/rand/v2"
	"testing"

	"golang.org/x/net/http/httpguts"
)

func TestFieldValueLikeHttpguts(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		n := r.IntN(40)
		b := make([]byte, n)
		for j := range b {
			switch r.IntN(6) {
			case 0:
				b[j] = byte(r.IntN(256))
			case 1:
				b[j] = byte(r.IntN(0x20))
			case 2:
				b[j] = 0x7f
			default:
				b[j] = byte(0x21 + r.IntN(0x5e))
			}
		}
		if got, want := fieldValue(b), httpguts.ValidHeaderFieldValue(string(b)); got != want {
			t.Fatalf("%q: fieldValue %v, httpguts %v", b, got, want)
		}
	}
}
