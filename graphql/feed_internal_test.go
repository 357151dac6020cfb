package graphql

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/99designs/gqlgen/graphql"

	"github.com/gatehouse/gatehouse/graphql/generated"
	"github.com/gatehouse/gatehouse/oauth"
)

// TestAuditEventsHasNextPage: page_info.has_next_page of audit_events
// follows the REST feed's rule (authz/feed.go, API.md): a page may hold
// fewer items than asked (none, even: the server reads a bounded stretch
// of the log per request, 10,000 messages, and a type filter may match
// none of them) or a few more (a packed message is never split) while
// next_after moves on, and the feed has ended, for now, when next_after
// equals after. has_next_page was "the page is full", so a client paging
// a filtered feed stopped at the first short page and never saw the
// events after it. The REST answers here are the feed's own shapes.
func TestAuditEventsHasNextPage(t *testing.T) {
	item := `{"seq":%d,"id":"evt_%d","type":"app.created","time":"2026-01-01T00:00:00Z","actor":{"kind":"app","id":"a"},"subject":"app/a","data":{}}`
	for _, c := range []struct {
		name, query, answer string
		want                bool
	}{
		{"a filtered stretch with no match", `{ audit_events(type: "app.*") { page_info { end_cursor has_next_page } } }`,
			`{"items":[],"next_after":10000}`, true},
		{"a short page", `{ audit_events(first: 5, after: 100) { page_info { end_cursor has_next_page } } }`,
			`{"items":[` + fmt.Sprintf(item, 101, 1) + `],"next_after":9000}`, true},
		{"a packed message past first", `{ audit_events(first: 1) { page_info { end_cursor has_next_page } } }`,
			`{"items":[` + fmt.Sprintf(item, 3, 1) + `,` + fmt.Sprintf(item, 3, 2) + `],"next_after":3}`, true},
		{"the end", `{ audit_events(first: 5, after: 42) { page_info { end_cursor has_next_page } } }`,
			`{"items":[],"next_after":42}`, false},
	} {
		feed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(c.answer))
		})
		ex := newExecutor(generated.NewExecutableSchema(generated.Config{Resolvers: &resolver{router: feed}, Complexity: costs()}),
			DefaultMaxDepth, DefaultMaxCost, nil)
		ctx := graphql.StartOperationTrace(context.WithValue(context.Background(), principalKey{}, oauth.Principal{}))
		op, errs := ex.CreateOperationContext(ctx, &graphql.RawParams{Query: c.query})
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		h, ctx := ex.DispatchOperation(ctx, op)
		resp := h(ctx)
		var a struct {
			AuditEvents struct {
				PageInfo struct {
					EndCursor   string `json:"end_cursor"`
					HasNextPage bool   `json:"has_next_page"`
				} `json:"page_info"`
			} `json:"audit_events"`
		}
		if len(resp.Errors) > 0 || json.Unmarshal(resp.Data, &a) != nil {
			t.Fatalf("%s: %v %s", c.name, resp.Errors, resp.Data)
		}
		if a.AuditEvents.PageInfo.HasNextPage != c.want {
			t.Errorf("%s: has_next_page %v, want %v (%s)", c.name, a.AuditEvents.PageInfo.HasNextPage, c.want, resp.Data)
		}
	}
}
