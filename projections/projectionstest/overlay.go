package projectionstest

import (
	"fmt"
	"testing"

	"github.com/gatehouse/gatehouse/projections"
)

// overlayTests: several writes of one document in one Update leave what
// the last of them says, however a store turns them into its own writes
// (the postgres store buffers them and sends only the outcome).
var overlayTests = map[string]func(*testing.T, projections.Store){
	"PutThenDeleteInOneTx":    testPutThenDeleteInOneTx,
	"DeleteThenPutInOneTx":    testDeleteThenPutInOneTx,
	"ManyPutsOfOneDocInOneTx": testManyPutsOfOneDocInOneTx,
	"RewriteUnchanged":        testRewriteUnchanged,
}

func testPutThenDeleteInOneTx(t *testing.T, s projections.Store) {
	mustWrite(t, s, func(tx projections.Tx) error {
		if err := tx.Put(doc("app", "n", "t1", "1", `{}`, "k:n")); err != nil {
			return err
		}
		return tx.Delete("app", "n")
	})
	wantMissing(t, s, "app", "n")
	wantHolder(t, s, "app", "k:n", "")
	if ids := listAll(t, s, "app", "t1", 10); len(ids) != 0 {
		t.Fatalf("list = %v", ids)
	}
	wantCheckpoint(t, s, 1, 0)
}

func testDeleteThenPutInOneTx(t *testing.T, s projections.Store) {
	mustWrite(t, s, putAll(doc("app", "a", "t1", "1", `{"v":1}`, "k:a")))
	d := doc("app", "a", "t2", "2", `{"v":2}`, "k:b")
	mustWrite(t, s, func(tx projections.Tx) error {
		if err := tx.Delete("app", "a"); err != nil {
			return err
		}
		return tx.Put(d)
	})
	wantDoc(t, mustGet(t, s, "app", "a"), d)
	wantHolder(t, s, "app", "k:a", "")
	wantHolder(t, s, "app", "k:b", "a")
	if ids := listAll(t, s, "app", "t1", 10); len(ids) != 0 {
		t.Fatalf("old tenant lists %v", ids)
	}
	if ids := listAll(t, s, "app", "t2", 10); !equal(ids, []string{"a"}) {
		t.Fatalf("new tenant lists %v", ids)
	}
}

// testManyPutsOfOneDocInOneTx: a document rewritten many times in one
// Update, its key changing each time, holds only its last key.
func testManyPutsOfOneDocInOneTx(t *testing.T, s projections.Store) {
	mustWrite(t, s, putAll(doc("app", "a", "t1", "1", `{"v":-1}`, "k:start")))
	const n = 100
	mustWrite(t, s, func(tx projections.Tx) error {
		for i := range n {
			if err := tx.Put(doc("app", "a", "t1", fmt.Sprint(i), fmt.Sprintf(`{"v":%d}`, i), fmt.Sprintf("k:%d", i))); err != nil {
				return err
			}
		}
		return nil
	})
	wantDoc(t, mustGet(t, s, "app", "a"), doc("app", "a", "t1", fmt.Sprint(n-1), fmt.Sprintf(`{"v":%d}`, n-1), fmt.Sprintf("k:%d", n-1)))
	wantHolder(t, s, "app", "k:start", "")
	for i := range n - 1 {
		wantHolder(t, s, "app", fmt.Sprintf("k:%d", i), "")
	}
	wantHolder(t, s, "app", fmt.Sprintf("k:%d", n-1), "a")
}

// testRewriteUnchanged: putting a document exactly as stored changes
// nothing, and changing only its Sort moves it in List.
func testRewriteUnchanged(t *testing.T, s projections.Store) {
	a := doc("app", "a", "t1", "1", `{"v":1}`, "k:a")
	b := doc("app", "b", "t1", "2", `{"v":1}`)
	mustWrite(t, s, putAll(a, b))
	mustWrite(t, s, putAll(a, b))
	wantDoc(t, mustGet(t, s, "app", "a"), a)
	wantHolder(t, s, "app", "k:a", "a")
	a.Sort = "3"
	mustWrite(t, s, putAll(a))
	if ids := listAll(t, s, "app", "t1", 10); !equal(ids, []string{"b", "a"}) {
		t.Fatalf("after moving a: %v", ids)
	}
	wantDoc(t, mustGet(t, s, "app", "a"), a)
	wantCheckpoint(t, s, 3, 0)
}
