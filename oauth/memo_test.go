package oauth

import (
	"context"
	"errors"
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

// Remember reads once a request, keeps only a successful read, and
// outside a token request reads every time.
func TestRemember(t *testing.T) {
	reads := 0
	read := func(v int, err error) func() (int, error) {
		return func() (int, error) { reads++; return v, err }
	}
	ctx := withMemo(context.Background())
	if _, err := Remember(ctx, "k", read(0, errors.New("down"))); err == nil {
		t.Fatal("the read's error was not returned")
	}
	for range 2 {
		if v, err := Remember(ctx, "k", read(7, nil)); err != nil || v != 7 {
			t.Fatalf("Remember = %v, %v", v, err)
		}
	}
	if reads != 2 {
		t.Fatalf("%d reads in one request, want 2 (a failed one is not kept)", reads)
	}
	for range 2 {
		if _, err := Remember(context.Background(), "k", read(7, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if reads != 4 {
		t.Fatalf("%d reads, want 4: outside a token request nothing is kept", reads)
	}
}

// A Memo keeps more values than it holds in place, each under its key.
func TestMemoMany(t *testing.T) {
	m := MemoOf(withMemo(context.Background()))
	const n = memoSlots*2 + 1
	for i := range n {
		m.Store(i, i*10)
	}
	m.Store(1, 11)
	m.Store(n-1, -1)
	for i := range n {
		want := i * 10
		switch i {
		case 1:
			want = 11
		case n - 1:
			want = -1
		}
		if v, ok := m.Load(i); !ok || v != want {
			t.Fatalf("Load(%d) = %v, %v; want %d", i, v, ok, want)
		}
	}
	if _, ok := m.Load(n); ok {
		t.Fatalf("Load(%d) found a value never stored", n)
	}
}
