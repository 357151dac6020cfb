package server

import (
	"fmt"
	"net/http"
	"net/url"
)

// feed walks the audit feed through its answers: both streams page by
// page to the end (the last page empty, next_after unchanged), a type
// filter, every invalid parameter, and no token.
func (c *conformance) feed(admin string) {
	c.t.Helper()
	const feed = "/v1/platform/events"
	c.do(c.jsonRequest(http.MethodGet, feed, "", nil), http.StatusUnauthorized)
	for _, stream := range []string{"control", "events"} {
		after, items := uint64(0), 0
		for range 1000 {
			var page struct {
				Items     []map[string]any `json:"items"`
				NextAfter uint64           `json:"next_after"`
			}
			q := url.Values{"stream": {stream}, "after": {fmt.Sprint(after)}, "limit": {"7"}}
			c.decode(c.do(c.jsonRequest(http.MethodGet, feed+"?"+q.Encode(), admin, nil), http.StatusOK), &page)
			items += len(page.Items)
			if page.NextAfter == after {
				break
			}
			after = page.NextAfter
		}
		if items == 0 {
			c.t.Errorf("the %s feed of the admin's tenant is empty", stream)
		}
	}
	c.do(c.jsonRequest(http.MethodGet, feed+"?"+url.Values{"type": {"app.*,tenant.created"}, "limit": {"500"}}.Encode(), admin, nil), http.StatusOK)
	for _, q := range []string{"after=-1", "limit=501", "stream=all", "type=App.*", "after=x&limit=0"} {
		c.do(c.jsonRequest(http.MethodGet, feed+"?"+q, admin, nil), http.StatusBadRequest)
	}
}
