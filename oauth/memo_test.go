package oauth

import (
	"context"
	"testing"
)

// A Memo keeps what its request stored; outside a token request there is
// none and nothing is kept.
func TestMemo(t *testing.T) {
	if m := MemoOf(context.Background()); m != nil {
		t.Fatalf("a memo outside a token request: %v", m)
	}
	var none *Memo
	none.Store("k", 1)
	none.authenticated(&Client{ClientID: "c"})
	if _, ok := none.Load("k"); ok || none.clientOf("c") != nil {
		t.Fatal("a nil memo kept something")
	}

	ctx := withMemo(context.Background())
	m := MemoOf(ctx)
	if _, ok := m.Load("k"); ok {
		t.Fatal("a new memo holds k")
	}
	m.Store("k", 1)
	if v, ok := m.Load("k"); !ok || v != 1 {
		t.Fatalf("Load(k) = %v, %v", v, ok)
	}
	if MemoOf(withMemo(ctx)) == m {
		t.Fatal("a new request shares its memo with another")
	}
	cl := &Client{ClientID: "c"}
	m.authenticated(cl)
	if m.clientOf("c") != cl {
		t.Fatal("the authenticated client is not remembered")
	}
	if m.clientOf("other") != nil {
		t.Fatal("the authenticated client is answered for another id")
	}
}
