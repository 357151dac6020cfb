package authz

import (
	"slices"
	"strconv"
	"testing"

	"github.com/gatehouse/gatehouse/projections"
)

// TestFilteredPageSkipsNothing: paging a filtered list by next cursors
// answers every kept item once, whatever the page size, even when a page
// fills up in the middle of what the store returned.
func TestFilteredPageSkipsNothing(t *testing.T) {
	all := make([]int, 37)
	for i := range all {
		all[i] = i
	}
	list := func(p projections.Page) ([]int, string, error) {
		start := 0
		if p.After != "" {
			n, _ := strconv.Atoi(p.After)
			start = n + 1
		}
		end := min(start+p.Limit, len(all))
		next := ""
		if end < len(all) {
			next = strconv.Itoa(end - 1)
		}
		return all[start:end], next, nil
	}
	keep := func(v int) bool { return v%3 != 1 }
	var want []int
	for _, v := range all {
		if keep(v) {
			want = append(want, v)
		}
	}
	for limit := 1; limit <= 12; limit++ {
		var got []int
		cursor := ""
		for range 100 {
			items, next, err := filteredPage(projections.Page{After: cursor, Limit: limit}, list, keep, func(v int) int { return v })
			if err != nil {
				t.Fatal(err)
			}
			if len(items) > limit {
				t.Fatalf("limit %d: a page of %d", limit, len(items))
			}
			got = append(got, items...)
			if next == "" {
				break
			}
			cursor = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: paged %v, want %v", limit, got, want)
		}
	}
}
