package projectionstest

import (
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/projections"
)

var docTests = map[string]func(*testing.T, projections.Store){
	"GetMissing":         testGetMissing,
	"PutGet":             testPutGet,
	"Replace":            testReplace,
	"Delete":             testDelete,
	"KindsAreSeparate":   testKindsAreSeparate,
	"InvalidDocs":        testInvalidDocs,
	"CallersCannotWrite": testCallersCannotWrite,
}

func testGetMissing(t *testing.T, s projections.Store) {
	wantMissing(t, s, "app", "nope")
	wantHolder(t, s, "app", "client_id:nope", "")
	docs, next, err := s.List(t.Context(), "app", "t1", projections.Page{Limit: 10})
	if err != nil || len(docs) != 0 || next != "" {
		t.Fatalf("List of an empty store = %v, %q, %v", docs, next, err)
	}
	wantCheckpoint(t, s, 0, 0)
}

func testPutGet(t *testing.T, s projections.Store) {
	// Bodies come back byte for byte: no re-encoding, no reordering.
	d := doc("app", "a1", "t1", "2024", `{"z": 1,  "a":[2, 1] }`, "name:t1/x", "client_id:c1", "name:t1/x")
	mustWrite(t, s, putAll(d))
	wantDoc(t, mustGet(t, s, "app", "a1"), d)
	got, err := s.Lookup(t.Context(), "app", "client_id:c1")
	if err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	wantDoc(t, got, d)
	if want := []string{"client_id:c1", "name:t1/x"}; !equal(got.Keys, want) {
		t.Fatalf("keys = %q, want sorted and unique %q", got.Keys, want)
	}
}

func testReplace(t *testing.T, s projections.Store) {
	mustWrite(t, s, putAll(doc("app", "a1", "t1", "1", `{"v":1}`, "k:1")))
	d := doc("app", "a1", "t2", "2", `{"v":2}`, "k:2")
	mustWrite(t, s, putAll(d))
	wantDoc(t, mustGet(t, s, "app", "a1"), d)
	wantHolder(t, s, "app", "k:1", "")
	wantHolder(t, s, "app", "k:2", "a1")
	if ids := listAll(t, s, "app", "t1", 10); len(ids) != 0 {
		t.Fatalf("old tenant still lists %v", ids)
	}
	if ids := listAll(t, s, "app", "t2", 10); !equal(ids, []string{"a1"}) {
		t.Fatalf("new tenant lists %v", ids)
	}
}

func testDelete(t *testing.T, s projections.Store) {
	mustWrite(t, s, putAll(doc("app", "a1", "t1", "1", `{}`, "k:1"), doc("app", "a2", "t1", "2", `{}`)))
	mustWrite(t, s, func(tx projections.Tx) error {
		if err := tx.Delete("app", "a1"); err != nil {
			return err
		}
		return tx.Delete("app", "never-was") // deleting nothing is no error
	})
	wantMissing(t, s, "app", "a1")
	wantHolder(t, s, "app", "k:1", "")
	if ids := listAll(t, s, "app", "t1", 10); !equal(ids, []string{"a2"}) {
		t.Fatalf("list after delete = %v", ids)
	}
}

func testKindsAreSeparate(t *testing.T, s projections.Store) {
	a := doc("app", "x", "t1", "1", `{"kind":"app"}`, "name:x")
	b := doc("tenant", "x", "t1", "1", `{"kind":"tenant"}`, "name:x")
	mustWrite(t, s, putAll(a, b))
	wantDoc(t, mustGet(t, s, "app", "x"), a)
	wantDoc(t, mustGet(t, s, "tenant", "x"), b)
	if ids := listAll(t, s, "tenant", "t1", 10); !equal(ids, []string{"x"}) {
		t.Fatalf("tenant list = %v", ids)
	}
	mustWrite(t, s, func(tx projections.Tx) error { return tx.Delete("app", "x") })
	wantDoc(t, mustGet(t, s, "tenant", "x"), b)
	wantHolder(t, s, "tenant", "name:x", "x")
}

func testInvalidDocs(t *testing.T, s projections.Store) {
	for _, d := range []projections.Doc{
		doc("", "id", "t", "s", `{}`),
		doc("app", "", "t", "s", `{}`),
		doc("app", "id", "t", "s", `{}`, "k", ""),
	} {
		wantErr(t, write(t, s, putAll(d)), projections.ErrInvalid)
	}
	wantMissing(t, s, "app", "id")
	wantCheckpoint(t, s, 0, 0)
}

// testCallersCannotWrite: the store keeps its own copies; changing a Doc
// given to Put or returned by a read changes nothing stored.
func testCallersCannotWrite(t *testing.T, s projections.Store) {
	in := doc("app", "a1", "t1", "1", `{"v":1}`, "k:1")
	mustWrite(t, s, func(tx projections.Tx) error {
		if err := tx.Put(in); err != nil {
			return err
		}
		in.Body[2], in.Keys[0] = 'X', "k:X"
		got, err := tx.Get("app", "a1")
		if err != nil {
			return err
		}
		got.Body[2], got.Keys[0] = 'Y', "k:Y"
		return nil
	})
	in.Body[2] = 'Z'
	want := doc("app", "a1", "t1", "1", `{"v":1}`, "k:1")
	got := mustGet(t, s, "app", "a1")
	wantDoc(t, got, want)
	got.Body[2], got.Keys[0] = 'W', "k:W"
	wantDoc(t, mustGet(t, s, "app", "a1"), want)
	docs, _, _ := s.List(t.Context(), "app", "t1", projections.Page{Limit: 1})
	docs[0].Body[2] = 'V'
	wantDoc(t, mustGet(t, s, "app", "a1"), want)
	wantHolder(t, s, "app", "k:1", "a1")
}

func equal(a, b []string) bool { return slices.Equal(a, b) }
