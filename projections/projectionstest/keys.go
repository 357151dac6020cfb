package projectionstest

import (
	"testing"

	"github.com/gatehouse/gatehouse/projections"
)

var keyTests = map[string]func(*testing.T, projections.Store){
	"KeyConflict":                testKeyConflict,
	"KeyConflictInOneTx":         testKeyConflictInOneTx,
	"FailedPutChangesNothing":    testFailedPutChangesNothing,
	"KeyReleasedByPut":           testKeyReleasedByPut,
	"KeyReleasedByDelete":        testKeyReleasedByDelete,
	"KeyReleasedAndTakenInOneTx": testKeyReleasedAndTakenInOneTx,
	"KeysSwapInOneTx":            testKeysSwapInOneTx,
	"KeyOfAnotherKindIsFree":     testKeyOfAnotherKindIsFree,
	"KeyKeptAndKeyTaken":         testKeyKeptAndKeyTaken,
}

// testKeyKeptAndKeyTaken: a Put that keeps the keys its document holds
// still conflicts on a new key another document holds, asked about alone
// or with other new keys, and a rewrite keeping every key is no conflict.
func testKeyKeptAndKeyTaken(t *testing.T, s projections.Store) {
	mustWrite(t, s, putAll(doc("app", "a", "t1", "1", `{}`, "k:1"), doc("app", "b", "t1", "2", `{}`, "k:2")))
	for _, keys := range [][]string{{"k:1", "k:2"}, {"k:1", "k:2", "k:3"}, {"k:0", "k:1", "k:2"}} {
		err := write(t, s, putAll(doc("app", "a", "t1", "1", `{"v":1}`, keys...)))
		wantErr(t, err, projections.ErrKeyConflict)
	}
	mustWrite(t, s, putAll(doc("app", "a", "t1", "1", `{"v":2}`, "k:1")))
	mustWrite(t, s, putAll(doc("app", "a", "t1", "1", `{"v":3}`, "k:1", "k:3", "k:4")))
	wantHolder(t, s, "app", "k:2", "b")
	for _, k := range []string{"k:1", "k:3", "k:4"} {
		wantHolder(t, s, "app", k, "a")
	}
}

func testKeyConflict(t *testing.T, s projections.Store) {
	mustWrite(t, s, putAll(doc("app", "a", "t1", "1", `{}`, "client_id:c")))
	err := write(t, s, putAll(
		doc("app", "other", "t1", "2", `{}`),
		doc("app", "b", "t1", "3", `{}`, "client_id:c"),
	))
	wantErr(t, err, projections.ErrKeyConflict)
	wantMissing(t, s, "app", "b")
	wantMissing(t, s, "app", "other") // the whole Update failed
	wantHolder(t, s, "app", "client_id:c", "a")
	wantCheckpoint(t, s, 1, 0)
	// A document may Put its own keys again.
	mustWrite(t, s, putAll(doc("app", "a", "t1", "1", `{"v":2}`, "client_id:c")))
	wantHolder(t, s, "app", "client_id:c", "a")
}

func testKeyConflictInOneTx(t *testing.T, s projections.Store) {
	err := write(t, s, putAll(
		doc("app", "a", "t1", "1", `{}`, "name:x"),
		doc("app", "b", "t1", "2", `{}`, "name:x"),
	))
	wantErr(t, err, projections.ErrKeyConflict)
	wantMissing(t, s, "app", "a")
	wantHolder(t, s, "app", "name:x", "")
}

// testFailedPutChangesNothing: a Put that conflicts leaves the document,
// its keys and the rest of the transaction as they were, and the
// transaction can go on and commit.
func testFailedPutChangesNothing(t *testing.T, s projections.Store) {
	mustWrite(t, s, putAll(
		doc("app", "a", "t1", "1", `{}`, "k:a"),
		doc("app", "b", "t1", "2", `{"v":1}`, "k:b"),
	))
	mustWrite(t, s, func(tx projections.Tx) error {
		err := tx.Put(doc("app", "b", "t2", "9", `{"v":2}`, "k:new", "k:a"))
		wantErr(t, err, projections.ErrKeyConflict)
		d, err := tx.Get("app", "b")
		if err != nil {
			return err
		}
		wantDoc(t, d, doc("app", "b", "t1", "2", `{"v":1}`, "k:b"))
		if _, err := tx.Lookup("app", "k:new"); err == nil {
			t.Error("a failed Put took a key")
		}
		return tx.Put(doc("app", "c", "t1", "3", `{}`, "k:c"))
	})
	wantDoc(t, mustGet(t, s, "app", "b"), doc("app", "b", "t1", "2", `{"v":1}`, "k:b"))
	wantHolder(t, s, "app", "k:b", "b")
	wantHolder(t, s, "app", "k:new", "")
	wantHolder(t, s, "app", "k:c", "c")
	if ids := listAll(t, s, "app", "t1", 10); !equal(ids, []string{"a", "b", "c"}) {
		t.Fatalf("list = %v", ids)
	}
}

func testKeyReleasedByPut(t *testing.T, s projections.Store) {
	mustWrite(t, s, putAll(doc("app", "a", "t1", "1", `{}`, "name:old", "client_id:c")))
	mustWrite(t, s, putAll(doc("app", "a", "t1", "1", `{}`, "name:new", "client_id:c")))
	wantHolder(t, s, "app", "name:old", "")
	wantHolder(t, s, "app", "name:new", "a")
	wantHolder(t, s, "app", "client_id:c", "a")
	mustWrite(t, s, putAll(doc("app", "b", "t1", "2", `{}`, "name:old")))
	wantHolder(t, s, "app", "name:old", "b")
}

func testKeyReleasedByDelete(t *testing.T, s projections.Store) {
	mustWrite(t, s, putAll(doc("app", "a", "t1", "1", `{}`, "name:x")))
	mustWrite(t, s, func(tx projections.Tx) error { return tx.Delete("app", "a") })
	wantHolder(t, s, "app", "name:x", "")
	mustWrite(t, s, putAll(doc("app", "b", "t1", "2", `{}`, "name:x")))
	wantHolder(t, s, "app", "name:x", "b")
}

func testKeyReleasedAndTakenInOneTx(t *testing.T, s projections.Store) {
	mustWrite(t, s, putAll(
		doc("app", "a", "t1", "1", `{}`, "name:x"),
		doc("app", "b", "t1", "2", `{}`, "name:y"),
	))
	mustWrite(t, s, func(tx projections.Tx) error {
		if err := tx.Delete("app", "a"); err != nil {
			return err
		}
		if err := tx.Put(doc("app", "c", "t1", "3", `{}`, "name:x")); err != nil {
			return err
		}
		if err := tx.Put(doc("app", "b", "t1", "2", `{}`, "name:z")); err != nil {
			return err
		}
		return tx.Put(doc("app", "d", "t1", "4", `{}`, "name:y"))
	})
	wantHolder(t, s, "app", "name:x", "c")
	wantHolder(t, s, "app", "name:y", "d")
	wantHolder(t, s, "app", "name:z", "b")
}

func testKeysSwapInOneTx(t *testing.T, s projections.Store) {
	mustWrite(t, s, putAll(
		doc("app", "a", "t1", "1", `{}`, "k:x"),
		doc("app", "b", "t1", "2", `{}`, "k:y"),
	))
	mustWrite(t, s, putAll(
		doc("app", "a", "t1", "1", `{}`),
		doc("app", "b", "t1", "2", `{}`, "k:x"),
		doc("app", "a", "t1", "1", `{}`, "k:y"),
	))
	wantHolder(t, s, "app", "k:x", "b")
	wantHolder(t, s, "app", "k:y", "a")
}

func testKeyOfAnotherKindIsFree(t *testing.T, s projections.Store) {
	mustWrite(t, s, putAll(
		doc("app", "a", "t1", "1", `{}`, "name:x"),
		doc("user", "u", "t1", "1", `{}`, "name:x"),
	))
	wantHolder(t, s, "app", "name:x", "a")
	wantHolder(t, s, "user", "name:x", "u")
}
