package projectionstest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/projections"
)

var listTests = map[string]func(*testing.T, projections.Store){
	"ListOrder":                testListOrder,
	"ListTenantAndKindScoping": testListScoping,
	"ListPages":                testListPages,
	"ListLastPageHasNoCursor":  testListLastPageHasNoCursor,
	"ListWritesBetweenPages":   testListWritesBetweenPages,
	"ListSortChange":           testListSortChange,
	"ListRewriteInPlace":       testListRewriteInPlace,
	"ListUnlistedKind":         testListUnlistedKind,
	"ListBadPage":              testListBadPage,
	"ListManyRandom":           testListManyRandom,
}

// putSorted writes one app of tenant t1 per "sort/id" pair.
func putSorted(t *testing.T, s projections.Store, pairs ...string) {
	t.Helper()
	docs := make([]projections.Doc, len(pairs))
	for i, p := range pairs {
		sort, id, _ := strings.Cut(p, "/")
		docs[i] = doc("app", id, "t1", sort, `{}`)
	}
	mustWrite(t, s, putAll(docs...))
}

func testListOrder(t *testing.T, s projections.Store) {
	// Sort first, then ID, both by bytes ("B" < "a"); written out of order.
	putSorted(t, s, "2/a", "1/z", "2/B", "/e", "10/c", "1/y")
	want := []string{"e", "y", "z", "c", "B", "a"}
	for _, limit := range []int{1, 2, 4, 6, 100} {
		if got := listAll(t, s, "app", "t1", limit); !equal(got, want) {
			t.Fatalf("limit %d: %v, want %v", limit, got, want)
		}
	}
}

func testListScoping(t *testing.T, s projections.Store) {
	mustWrite(t, s, putAll(
		doc("app", "a1", "t1", "1", `{}`),
		doc("app", "a2", "t2", "1", `{}`),
		doc("app", "a3", "", "1", `{}`),
		doc("app", "a4", "t1", "2", `{}`),
		doc("user", "u1", "t1", "0", `{}`),
	))
	for tenant, want := range map[string][]string{"t1": {"a1", "a4"}, "t2": {"a2"}, "": {"a3"}, "t3": nil} {
		if got := listAll(t, s, "app", tenant, 1); !equal(got, want) {
			t.Fatalf("tenant %q lists %v, want %v", tenant, got, want)
		}
	}
	if got := listAll(t, s, "user", "t1", 10); !equal(got, []string{"u1"}) {
		t.Fatalf("users of t1: %v", got)
	}
}

func testListPages(t *testing.T, s projections.Store) {
	var pairs, want []string
	for i := range 25 {
		pairs = append(pairs, fmt.Sprintf("%02d/id%02d", i, i))
		want = append(want, fmt.Sprintf("id%02d", i))
	}
	putSorted(t, s, pairs...)
	p := projections.Page{Limit: 10}
	for _, size := range []int{10, 10, 5} {
		docs, next, err := s.List(t.Context(), "app", "t1", p)
		if err != nil || len(docs) != size {
			t.Fatalf("page of %d: got %d, %v", size, len(docs), err)
		}
		if (next == "") != (size < 10) {
			t.Fatalf("page of %d has next %q", size, next)
		}
		if got := idsOf(docs); !equal(got, want[:size]) {
			t.Fatalf("page = %v, want %v", got, want[:size])
		}
		want, p.After = want[size:], next
	}
}

// testListLastPageHasNoCursor: when the documents fill the last page
// exactly, it still carries no cursor (no empty page after it).
func testListLastPageHasNoCursor(t *testing.T, s projections.Store) {
	putSorted(t, s, "1/a", "2/b", "3/c", "4/d")
	docs, next, err := s.List(t.Context(), "app", "t1", projections.Page{Limit: 2})
	if err != nil || len(docs) != 2 || next == "" {
		t.Fatalf("first page: %d docs, next %q, %v", len(docs), next, err)
	}
	docs, next, err = s.List(t.Context(), "app", "t1", projections.Page{Limit: 2, After: next})
	if err != nil || !equal(idsOf(docs), []string{"c", "d"}) || next != "" {
		t.Fatalf("last page: %v, next %q, %v", idsOf(docs), next, err)
	}
}

// testListWritesBetweenPages: a cursor is a position, so documents
// written before it are not shown, those after it are, and deleting the
// cursor's own document does not lose the place.
func testListWritesBetweenPages(t *testing.T, s projections.Store) {
	putSorted(t, s, "10/a", "20/b", "30/c", "40/d", "50/e", "60/f")
	docs, next, err := s.List(t.Context(), "app", "t1", projections.Page{Limit: 3})
	if err != nil || !equal(idsOf(docs), []string{"a", "b", "c"}) {
		t.Fatalf("first page: %v, %v", idsOf(docs), err)
	}
	putSorted(t, s, "05/early", "25/between", "35/later", "30/c2", "70/last")
	mustWrite(t, s, func(tx projections.Tx) error {
		if err := tx.Delete("app", "c"); err != nil { // the cursor's document
			return err
		}
		return tx.Delete("app", "e")
	})
	var got []string
	for p := (projections.Page{Limit: 3, After: next}); ; {
		docs, next, err := s.List(t.Context(), "app", "t1", p)
		if err != nil {
			t.Fatal(err)
		}
		if got = append(got, idsOf(docs)...); next == "" {
			break
		}
		p.After = next
	}
	if want := []string{"c2", "later", "d", "f", "last"}; !equal(got, want) {
		t.Fatalf("after the first page: %v, want %v", got, want)
	}
}

func testListSortChange(t *testing.T, s projections.Store) {
	putSorted(t, s, "1/a", "2/b", "3/c")
	putSorted(t, s, "4/a")
	if got := listAll(t, s, "app", "t1", 2); !equal(got, []string{"b", "c", "a"}) {
		t.Fatalf("after moving a: %v", got)
	}
}

// testListRewriteInPlace: a document rewritten at the same place (same
// tenant and Sort) is listed once, with its new body, and one that moves
// to another tenant leaves the first tenant's list.
func testListRewriteInPlace(t *testing.T, s projections.Store) {
	putSorted(t, s, "1/a", "2/b", "3/c")
	for i := range 3 {
		mustWrite(t, s, putAll(doc("app", "b", "t1", "2", fmt.Sprintf(`{"v":%d}`, i))))
	}
	docs, _, err := s.List(t.Context(), "app", "t1", projections.Page{Limit: 10})
	if err != nil || !equal(idsOf(docs), []string{"a", "b", "c"}) || string(docs[1].Body) != `{"v":2}` {
		t.Fatalf("after rewriting b in place: %v %q, %v", idsOf(docs), docs[1].Body, err)
	}
	mustWrite(t, s, putAll(doc("app", "b", "t2", "2", `{"v":3}`)))
	if got := listAll(t, s, "app", "t1", 2); !equal(got, []string{"a", "c"}) {
		t.Fatalf("t1 after moving b to t2: %v", got)
	}
	if got := listAll(t, s, "app", "t2", 2); !equal(got, []string{"b"}) {
		t.Fatalf("t2 after moving b there: %v", got)
	}
}

// testListUnlistedKind: a kind that is never listed (projections.Listed)
// is written, read, looked up and deleted like any other, and List of it
// fails with ErrInvalid, from the store and within a transaction.
func testListUnlistedKind(t *testing.T, s projections.Store) {
	kind := projections.KindUsedRefresh
	if projections.Listed(kind) {
		t.Fatalf("%s is listed", kind)
	}
	mustWrite(t, s, putAll(doc(kind, "h1", "t1", "h1", `{"grant_id":"g1"}`, "k:h1")))
	mustWrite(t, s, putAll(doc(kind, "h1", "t1", "h2", `{"grant_id":"g2"}`, "k:h1")))
	if d, err := s.Lookup(t.Context(), kind, "k:h1"); err != nil || string(d.Body) != `{"grant_id":"g2"}` || d.Sort != "h2" {
		t.Fatalf("Lookup = %+v, %v", d, err)
	}
	_, _, err := s.List(t.Context(), kind, "t1", projections.Page{Limit: 10})
	wantErr(t, err, projections.ErrInvalid)
	err = write(t, s, func(tx projections.Tx) error {
		_, _, err := tx.List(kind, "t1", projections.Page{Limit: 10})
		return err
	})
	wantErr(t, err, projections.ErrInvalid)
	mustWrite(t, s, func(tx projections.Tx) error { return tx.Delete(kind, "h1") })
	wantMissing(t, s, kind, "h1")
}

func testListBadPage(t *testing.T, s projections.Store) {
	putSorted(t, s, "1/a")
	for _, p := range []projections.Page{
		{Limit: 0},
		{Limit: -1},
		{Limit: 10, After: "not a cursor!"},
		{Limit: 10, After: "AAAA"},
	} {
		_, _, err := s.List(t.Context(), "app", "t1", p)
		wantErr(t, err, projections.ErrInvalid)
	}
}

func testListManyRandom(t *testing.T, s projections.Store) {
	rng := rand.New(rand.NewPCG(1, 2))
	var pairs, want []string
	for i := range 600 {
		sort := fmt.Sprintf("%03d", rng.IntN(200)) // many equal sorts
		pairs = append(pairs, fmt.Sprintf("%s/%s-%04d", sort, sort, rng.IntN(10000)+i*10000))
	}
	putSorted(t, s, pairs...)
	slices.Sort(pairs) // "sort/sort-n": the ids sort like (Sort, ID)
	for _, p := range pairs {
		_, id, _ := strings.Cut(p, "/")
		want = append(want, id)
	}
	if got := listAll(t, s, "app", "t1", 7); !equal(got, want) {
		t.Fatalf("walking pages of 7 gave %d ids, want %d in order", len(got), len(want))
	}
}
