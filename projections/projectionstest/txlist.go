package projectionstest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/projections"
)

// txListTests: List within a Tx sees the transaction's own writes, page by
// page, as Reader.List sees them once the Update has committed (the
// retention sweep lists the expiring documents this way).
var txListTests = map[string]func(*testing.T, projections.Store){
	"TxListSeesOwnWrites": testTxListSeesOwnWrites,
	"TxListRandom":        testTxListRandom,
	"TxListBadPage":       testTxListBadPage,
}

// txListAll pages through kind/tenant within tx, limit at a time.
func txListAll(tx projections.Tx, kind, tenant string, limit int) ([]string, error) {
	var ids []string
	for after, pages := "", 0; ; pages++ {
		if pages > 10_000 {
			return nil, errors.New("list within a Tx does not end")
		}
		docs, next, err := tx.List(kind, tenant, projections.Page{After: after, Limit: limit})
		if err != nil {
			return nil, err
		}
		ids = append(ids, idsOf(docs)...)
		if next == "" {
			return ids, nil
		}
		after = next
	}
}

func testTxListSeesOwnWrites(t *testing.T, s projections.Store) {
	putSorted(t, s, "1/a", "2/b", "3/c", "4/d")
	var got []string
	mustWrite(t, s, func(tx projections.Tx) error {
		if err := tx.Delete("app", "b"); err != nil {
			return err
		}
		for _, d := range []projections.Doc{doc("app", "e", "t1", "0", `{}`), doc("app", "c", "t1", "9", `{}`), doc("app", "f", "t2", "1", `{}`)} {
			if err := tx.Put(d); err != nil {
				return err
			}
		}
		var err error
		got, err = txListAll(tx, "app", "t1", 1)
		return err
	})
	if want := []string{"e", "a", "d", "c"}; !equal(got, want) {
		t.Fatalf("Tx.List = %v, want %v", got, want)
	}
	if after := listAll(t, s, "app", "t1", 2); !equal(after, got) {
		t.Fatalf("after the commit List = %v, within the Tx %v", after, got)
	}
}

// testTxListRandom: random writes over committed documents; every page
// size gives, within the Tx, what List gives after the commit.
func testTxListRandom(t *testing.T, s projections.Store) {
	r := rand.New(rand.NewPCG(7, 11))
	var seedDocs []projections.Doc
	for i := range 60 {
		seedDocs = append(seedDocs, doc("app", fmt.Sprintf("d%02d", i), fmt.Sprintf("t%d", r.IntN(2)), fmt.Sprintf("%02d", r.IntN(20)), `{}`))
	}
	mustWrite(t, s, putAll(seedDocs...))
	for round := range 5 {
		within := map[int][]string{}
		mustWrite(t, s, func(tx projections.Tx) error {
			for range 40 {
				id := fmt.Sprintf("d%02d", r.IntN(80))
				var err error
				if r.IntN(3) == 0 {
					err = tx.Delete("app", id)
				} else {
					err = tx.Put(doc("app", id, fmt.Sprintf("t%d", r.IntN(2)), fmt.Sprintf("%02d", r.IntN(20)), `{}`))
				}
				if err != nil {
					return err
				}
			}
			for _, limit := range []int{1, 3, 7, 100} {
				ids, err := txListAll(tx, "app", "t1", limit)
				if err != nil {
					return err
				}
				within[limit] = ids
			}
			return nil
		})
		after := listAll(t, s, "app", "t1", 500)
		for limit, ids := range within {
			if !slices.Equal(ids, after) {
				t.Fatalf("round %d, limit %d: within the Tx %v, after the commit %v", round, limit, ids, after)
			}
		}
	}
}

func testTxListBadPage(t *testing.T, s projections.Store) {
	err := write(t, s, func(tx projections.Tx) error {
		_, _, err := tx.List("app", "t1", projections.Page{Limit: 0})
		return err
	})
	wantErr(t, err, projections.ErrInvalid)
}
