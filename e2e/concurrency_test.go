package e2e

import (
	"net/http"
	"sync"
	"testing"
)

// TestConcurrentRequests: optimistic concurrency holds under real races.
// Of concurrent PATCHes with the same If-Match exactly one wins and the
// rest get 412; of concurrent creates of one name exactly one wins and the
// rest get 409; concurrent mints (group-committed) all succeed, each with
// its own jti, all active.
func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	const n = 8

	race := func(do func(i int) int) map[int]int {
		statuses := make(chan int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { statuses <- do(i) })
		}
		wg.Wait()
		close(statuses)
		count := map[int]int{}
		for st := range statuses {
			count[st]++
		}
		return count
	}

	t.Run("PATCH with one If-Match", func(t *testing.T) {
		a := a.in(t)
		app := a.createApp(map[string]any{"name": uniqueName(t, "app")})
		got := race(func(i int) int {
			r, _ := a.try(http.MethodPatch, "/v1/platform/apps/"+app.ID, map[string]any{"metadata": map[string]any{"writer": i}}, "If-Match", `"1"`)
			return r.Status
		})
		if got[http.StatusOK] != 1 || got[http.StatusPreconditionFailed] != n-1 {
			t.Fatalf("statuses %v, want one 200 and %d 412", got, n-1)
		}
		if r := a.call(http.MethodGet, "/v1/platform/apps/"+app.ID, nil); r.Header.Get("ETag") != `"2"` {
			t.Fatalf("after the race: %s ETag %s, want version 2", r, r.Header.Get("ETag"))
		}
	})
	t.Run("create one name", func(t *testing.T) {
		a := a.in(t)
		name := uniqueName(t, "app")
		got := race(func(i int) int {
			r, _ := a.try(http.MethodPost, "/v1/platform/apps", map[string]any{"name": name, "metadata": map[string]any{"writer": i}})
			return r.Status
		})
		if got[http.StatusCreated] != 1 || got[http.StatusConflict] != n-1 {
			t.Fatalf("statuses %v, want one 201 and %d 409", got, n-1)
		}
	})
	t.Run("mints", func(t *testing.T) {
		a := a.in(t)
		app := a.createApp(map[string]any{"name": uniqueName(t, "app")})
		var mu sync.Mutex
		var tokens []string
		got := race(func(int) int {
			tok, err := a.tryMint(appCreds(app))
			if err != nil {
				return 0
			}
			mu.Lock()
			tokens = append(tokens, tok.AccessToken)
			mu.Unlock()
			return http.StatusOK
		})
		if got[http.StatusOK] != n {
			t.Fatalf("mints %v, want %d successes", got, n)
		}
		jtis := map[string]bool{}
		for _, tok := range tokens {
			_, c := a.verifyJOSE(tok)
			jtis[c.JTI] = true
			if !a.active(tok) {
				t.Errorf("token %s inactive", c.JTI)
			}
		}
		if len(jtis) != n {
			t.Fatalf("%d distinct jti of %d tokens", len(jtis), n)
		}
	})
}
