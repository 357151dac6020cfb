package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse/gatehouse/httpapi"
)

// catalogEntries walks the catalogs' pages and their entries one by one
// (read, change with If-Match, remove) through their answers.
func (c *conformance) catalogEntries(admin string) {
	c.t.Helper()
	const scopes, types = "/v1/platform/scopes", "/v1/platform/event-types"
	var page struct {
		NextCursor string `json:"next_cursor"`
	}
	c.decode(c.do(c.jsonRequest(http.MethodGet, scopes+"?limit=2", admin, nil), http.StatusOK), &page)
	if page.NextCursor == "" {
		c.t.Fatal("a page of 2 built-in scopes has no next_cursor")
	}
	c.do(c.jsonRequest(http.MethodGet, scopes+"?"+url.Values{"cursor": {page.NextCursor}}.Encode(), admin, nil), http.StatusOK)
	c.do(c.jsonRequest(http.MethodGet, scopes+"?cursor=not-a-cursor", admin, nil), http.StatusBadRequest)
	c.do(c.jsonRequest(http.MethodGet, types+"?limit=1", admin, nil), http.StatusOK)
	c.do(c.jsonRequest(http.MethodGet, types+"?limit=0", admin, nil), http.StatusBadRequest)

	const name, et = "tickets:read", "ticket.opened"
	one := scopes + "/" + name
	c.do(c.jsonRequest(http.MethodPost, scopes, admin, map[string]any{"name": name, "description": "Read tickets"}), http.StatusCreated)
	c.do(c.jsonRequest(http.MethodGet, one, admin, nil), http.StatusOK)
	c.do(c.jsonRequest(http.MethodGet, scopes+"/tickets%3Aread", admin, nil), http.StatusOK)
	c.do(c.jsonRequest(http.MethodGet, scopes+"/platform:apps:read", admin, nil), http.StatusOK)
	c.do(c.jsonRequest(http.MethodGet, scopes+"/missing:scope", admin, nil), http.StatusNotFound)
	c.do(c.jsonRequest(http.MethodPatch, one, admin, map[string]any{"approvals_required": 3}, "If-Match", `"1"`), http.StatusOK)
	c.do(c.jsonRequest(http.MethodPatch, one, admin, map[string]any{"approvals_required": 2}, "If-Match", `"1"`), http.StatusPreconditionFailed)
	c.do(c.jsonRequest(http.MethodPatch, one, admin, map[string]any{"approvals_required": 0}), http.StatusBadRequest)
	c.do(c.jsonRequest(http.MethodPatch, one, admin, map[string]any{"name": "renamed:scope"}), http.StatusBadRequest)
	c.do(c.jsonRequest(http.MethodPatch, scopes+"/platform:apps:read", admin, map[string]any{"description": "mine"}), http.StatusConflict)
	c.do(c.jsonRequest(http.MethodPatch, scopes+"/missing:scope", admin, map[string]any{"description": "x"}), http.StatusNotFound)
	c.do(c.request(http.MethodPatch, one, strings.NewReader(`{}`), "Authorization", "Bearer "+admin, "Content-Type", "text/plain"), http.StatusUnsupportedMediaType)
	big := `{"description":"` + strings.Repeat("a", httpapi.DefaultBodyLimit) + `"}`
	c.do(c.request(http.MethodPatch, one, strings.NewReader(big), "Authorization", "Bearer "+admin, "Content-Type", "application/json"), http.StatusRequestEntityTooLarge)

	c.do(c.jsonRequest(http.MethodPost, types, admin, map[string]any{"name": et, "scope": name}), http.StatusCreated)
	c.do(c.jsonRequest(http.MethodGet, types+"/"+et, admin, nil), http.StatusOK)
	c.do(c.jsonRequest(http.MethodGet, types+"/app.created", admin, nil), http.StatusOK)
	c.do(c.jsonRequest(http.MethodGet, types+"/missing.type", admin, nil), http.StatusNotFound)
	c.do(c.jsonRequest(http.MethodDelete, types+"/"+et, admin, nil, "If-Match", `"9"`), http.StatusPreconditionFailed)
	c.do(c.jsonRequest(http.MethodDelete, types+"/"+et, admin, nil, "If-Match", `"1"`), http.StatusNoContent)
	c.do(c.jsonRequest(http.MethodDelete, one, admin, nil, "If-Match", `"1"`), http.StatusPreconditionFailed)
	c.do(c.jsonRequest(http.MethodDelete, one, admin, nil, "If-Match", `"2"`), http.StatusNoContent)
}
