package projections_test

import (
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/projections"
)

// TestOverlayReset: a reset Overlay holds none of the writes before it,
// whether it kept its maps (a small transaction's) or dropped them (a
// large batch's).
func TestOverlayReset(t *testing.T) {
	for _, n := range []int{1, 64, 4096, 4097, 10_000} {
		var o projections.Overlay
		for i := range n {
			o.Put(nil, &projections.Doc{Kind: "k", ID: fmt.Sprint(i), Keys: []string{fmt.Sprint("key:", i)}})
		}
		o.Reset()
		if len(o.Docs) != 0 || len(o.Keys) != 0 {
			t.Fatalf("%d writes: %d docs and %d keys after Reset", n, len(o.Docs), len(o.Keys))
		}
		if _, ok := o.Doc("k", "0"); ok {
			t.Fatalf("%d writes: k/0 still written after Reset", n)
		}
		if _, ok := o.Holder("k", "key:0"); ok {
			t.Fatalf("%d writes: key:0 still held after Reset", n)
		}
		o.Put(nil, &projections.Doc{Kind: "k", ID: "new", Keys: []string{"key:new"}})
		if d, ok := o.Doc("k", "new"); !ok || d.ID != "new" || len(o.Docs) != 1 || len(o.Keys) != 1 {
			t.Fatalf("%d writes: after Reset and one Put: %v %v, %d docs, %d keys", n, d, ok, len(o.Docs), len(o.Keys))
		}
	}
}
