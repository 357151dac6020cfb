package projectionstest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/projections"
)

// ownerTests: a List of one owner (Page.Owner) is the tenant's list with
// the other owners' documents left out, exactly, after every kind of
// write (an owner, a Sort or a tenant that changes, a delete), within a
// transaction and after its commit; its cursors are positions of the
// tenant's list too.
var ownerTests = map[string]func(*testing.T, projections.Store){
	"OwnerListRoundTrip": testOwnerListRoundTrip,
	"OwnerListRandom":    testOwnerListRandom,
	"OwnerListCursors":   testOwnerListCursors,
}

// owned builds a document of owner.
func owned(id, tenant, sort, owner string) projections.Doc {
	d := doc("webhook", id, tenant, sort, fmt.Sprintf(`{"app_id":%q}`, owner))
	d.Owner = owner
	return d
}

// ownerListAll pages through owner's documents of kind/tenant.
func ownerListAll(t *testing.T, r projections.Reader, kind, tenant, owner string, limit int) []string {
	t.Helper()
	var ids []string
	p := projections.Page{Limit: limit, Owner: owner}
	for range 10_000 {
		docs, next, err := r.List(t.Context(), kind, tenant, p)
		if err != nil {
			t.Fatalf("List of %s: %v", owner, err)
		}
		if len(docs) > limit || (next != "" && len(docs) != limit) {
			t.Fatalf("List of %s gave %d docs (limit %d) with next %q", owner, len(docs), limit, next)
		}
		for _, d := range docs {
			if d.Owner != owner || d.Tenant != tenant {
				t.Fatalf("List of %s/%s gave %s of %s/%s", tenant, owner, d.ID, d.Tenant, d.Owner)
			}
		}
		ids = append(ids, idsOf(docs)...)
		if next == "" {
			return ids
		}
		p.After = next
	}
	t.Fatal("List does not end")
	return nil
}

// byOwner is the tenant's list of kind split by owner, read with Get.
func byOwner(t *testing.T, s projections.Store, kind, tenant string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, id := range listAll(t, s, kind, tenant, 500) {
		if d := mustGet(t, s, kind, id); d.Owner != "" {
			out[d.Owner] = append(out[d.Owner], id)
		}
	}
	return out
}

func testOwnerListRoundTrip(t *testing.T, s projections.Store) {
	mustWrite(t, s, putAll(owned("w1", "t1", "1", "app_a"), owned("w2", "t1", "2", "app_b"), owned("w3", "t1", "3", "app_a"),
		owned("w4", "t2", "1", "app_a"), doc("webhook", "w5", "t1", "0", `{}`)))
	if d := mustGet(t, s, "webhook", "w1"); d.Owner != "app_a" {
		t.Fatalf("Get: owner %q", d.Owner)
	}
	if d := mustGet(t, s, "webhook", "w5"); d.Owner != "" {
		t.Fatalf("Get of a document without owner: %q", d.Owner)
	}
	for owner, want := range map[string][]string{"app_a": {"w1", "w3"}, "app_b": {"w2"}, "app_c": nil} {
		for _, limit := range []int{1, 2, 10} {
			if got := ownerListAll(t, s, "webhook", "t1", owner, limit); !equal(got, want) {
				t.Fatalf("%s, limit %d: %v, want %v", owner, limit, got, want)
			}
		}
	}
	if got := listAll(t, s, "webhook", "t1", 10); !equal(got, []string{"w5", "w1", "w2", "w3"}) {
		t.Fatalf("the tenant's list: %v", got)
	}
	if got := ownerListAll(t, s, "webhook", "t2", "app_a", 10); !equal(got, []string{"w4"}) {
		t.Fatalf("app_a in t2: %v", got)
	}
	// Deleted, moved to another owner: out of the first owner's list at once.
	mustWrite(t, s, func(tx projections.Tx) error {
		if err := tx.Delete("webhook", "w1"); err != nil {
			return err
		}
		return tx.Put(owned("w3", "t1", "3", "app_b"))
	})
	for owner, want := range map[string][]string{"app_a": nil, "app_b": {"w2", "w3"}} {
		if got := ownerListAll(t, s, "webhook", "t1", owner, 1); !equal(got, want) {
			t.Fatalf("after the delete and the move, %s: %v, want %v", owner, got, want)
		}
	}
}

// testOwnerListRandom: random puts (owner, Sort and tenant drawn anew,
// some without owner) and deletes; each owner's list, within the Tx and
// after the commit, for every page size, is the tenant's list filtered.
func testOwnerListRandom(t *testing.T, s projections.Store) {
	r := rand.New(rand.NewPCG(3, 5))
	owners := []string{"", "app_a", "app_b", "app_c"}
	put := func(tx projections.Tx, id string) error {
		return tx.Put(owned(id, fmt.Sprintf("t%d", r.IntN(2)), fmt.Sprintf("%02d", r.IntN(20)), owners[r.IntN(len(owners))]))
	}
	mustWrite(t, s, func(tx projections.Tx) error {
		for i := range 60 {
			if err := put(tx, fmt.Sprintf("w%02d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	for round := range 6 {
		within := map[string][]string{}
		mustWrite(t, s, func(tx projections.Tx) error {
			for range 30 {
				id := fmt.Sprintf("w%02d", r.IntN(80))
				var err error
				if r.IntN(3) == 0 {
					err = tx.Delete("webhook", id)
				} else {
					err = put(tx, id)
				}
				if err != nil {
					return err
				}
			}
			for _, owner := range owners[1:] {
				for _, limit := range []int{1, 3, 100} {
					var ids []string
					for after := ""; ; {
						docs, next, err := tx.List("webhook", "t1", projections.Page{After: after, Limit: limit, Owner: owner})
						if err != nil {
							return err
						}
						ids = append(ids, idsOf(docs)...)
						if after = next; next == "" {
							break
						}
					}
					key := fmt.Sprintf("%s/%d", owner, limit)
					within[key] = ids
				}
			}
			return nil
		})
		want := byOwner(t, s, "webhook", "t1")
		for _, owner := range owners[1:] {
			for _, limit := range []int{1, 3, 100} {
				if got := ownerListAll(t, s, "webhook", "t1", owner, limit); !slices.Equal(got, want[owner]) {
					t.Fatalf("round %d, %s, limit %d: %v, the tenant's list has %v", round, owner, limit, got, want[owner])
				}
				if got := within[fmt.Sprintf("%s/%d", owner, limit)]; !slices.Equal(got, want[owner]) {
					t.Fatalf("round %d, %s, limit %d: within the Tx %v, after the commit %v", round, owner, limit, got, want[owner])
				}
			}
		}
	}
}

// testOwnerListCursors: a cursor of the tenant's list (any document's
// position, another owner's too) goes on in the owner's list where it
// left off, and the reverse.
func testOwnerListCursors(t *testing.T, s projections.Store) {
	mustWrite(t, s, putAll(owned("a1", "t1", "1", "app_a"), owned("b1", "t1", "2", "app_b"), owned("a2", "t1", "3", "app_a"),
		owned("b2", "t1", "4", "app_b"), owned("a3", "t1", "5", "app_a")))
	docs, next, err := s.List(t.Context(), "webhook", "t1", projections.Page{Limit: 2})
	if err != nil || !equal(idsOf(docs), []string{"a1", "b1"}) || next == "" {
		t.Fatalf("the tenant's first page: %v, %q, %v", idsOf(docs), next, err)
	}
	docs, _, err = s.List(t.Context(), "webhook", "t1", projections.Page{Limit: 10, After: next, Owner: "app_a"})
	if err != nil || !equal(idsOf(docs), []string{"a2", "a3"}) {
		t.Fatalf("app_a after the tenant's cursor (at b1): %v, %v", idsOf(docs), err)
	}
	docs, next, err = s.List(t.Context(), "webhook", "t1", projections.Page{Limit: 1, Owner: "app_b"})
	if err != nil || !equal(idsOf(docs), []string{"b1"}) || next == "" {
		t.Fatalf("app_b's first page: %v, %q, %v", idsOf(docs), next, err)
	}
	docs, _, err = s.List(t.Context(), "webhook", "t1", projections.Page{Limit: 10, After: next})
	if err != nil || !equal(idsOf(docs), []string{"a2", "b2", "a3"}) {
		t.Fatalf("the tenant after app_b's cursor: %v, %v", idsOf(docs), err)
	}
}
