package syncbuf_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/internal/syncbuf"
)

// TestBufferConcurrent: lines written by many goroutines while another
// reads are all there, none torn (run with -race).
func TestBufferConcurrent(t *testing.T) {
	var b syncbuf.Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 100 {
				fmt.Fprintf(&b, "line %d-%d\n", i, j)
				_ = b.Contains("line")
			}
		})
	}
	wg.Wait()
	for i := range 8 {
		for j := range 100 {
			if !b.Contains(fmt.Sprintf("line %d-%d\n", i, j)) {
				t.Fatalf("line %d-%d is missing", i, j)
			}
		}
	}
	if n, _ := b.WriteString("end"); n != 3 || b.Contains("absent") {
		t.Fatal("WriteString or Contains is wrong")
	}
}
