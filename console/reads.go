package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/httpapi"
)

// The apps and webhooks lists read through authz.Reads: the functions
// GET /v1/platform/apps and GET /v1/webhooks are thin callers of, with
// the same rate budget, scope check, tenant scoping and problems, without
// a request through the router, the API's JSON encoding and the
// console's decoding of it (two thirds of an apps page's cost). The
// templates render the API's views (authz.AppView, authz.WebhookView)
// as they are. Other pages and every form still go through the API in
// process (api.go).

// readFailed renders an error of a read as failed renders the API's
// answer: a problem's status and message on the refusal page, anything
// else (logged) as the API's 500.
func (s *Console) readFailed(c echo.Context, p person, err error) error {
	var pr *httpapi.Problem
	if !errors.As(err, &pr) {
		pr = httpapi.Internal(err)
		s.cfg.Logger.ErrorContext(c.Request().Context(), "console: a list read failed", "error", err)
	}
	msg := pr.Detail
	if msg == "" {
		msg = pr.Title
	}
	return s.refused(c, p, pr.Status, msg)
}

// appsList is one page of the tenant's apps (50, or limit).
func (s *Console) appsList(c echo.Context, p person, limit int, cursor string) (authz.Page[authz.AppView], error) {
	page, err := authz.PageOf(&limit, cursor)
	if err != nil {
		return authz.Page[authz.AppView]{}, err
	}
	return s.cfg.Reads.ListApps(c.Request().Context(), p.Principal, page)
}

// catalogPage lists the tenant's scopes and event types.
func (s *Console) catalogPage(c echo.Context, p person) error {
	var scopes authz.Page[catalog.Scope]
	if a, err := s.get(c, p.Principal, "/v1/platform/scopes?limit=500", &scopes); err != nil || !a.ok() {
		return s.orFailed(c, p, a, err)
	}
	var types authz.Page[catalog.EventType]
	if a, err := s.get(c, p.Principal, "/v1/platform/event-types?limit=500", &types); err != nil || !a.ok() {
		return s.orFailed(c, p, a, err)
	}
	return s.render(c, http.StatusOK, "catalog", p, view{Title: "Catalog", Nav: "catalog", Data: struct {
		Scopes, Types any
	}{scopes.Items, types.Items}})
}

// usersPage lists the tenant's users.
func (s *Console) usersPage(c echo.Context, p person) error {
	var users authz.Page[User]
	path := "/v1/platform/users?limit=100"
	if cur := c.QueryParam("cursor"); cur != "" {
		path += "&cursor=" + url.QueryEscape(cur)
	}
	if a, err := s.get(c, p.Principal, path, &users); err != nil || !a.ok() {
		return s.orFailed(c, p, a, err)
	}
	return s.render(c, http.StatusOK, "users", p, view{Title: "Users", Nav: "users", Data: users})
}

// feedItem is one event of the audit feed.
type feedItem struct {
	Seq   uint64    `json:"seq"`
	Type  string    `json:"type"`
	Time  time.Time `json:"time"`
	Actor struct {
		Kind       string `json:"kind"`
		ID         string `json:"id"`
		Via        string `json:"via"`
		OnBehalfOf string `json:"on_behalf_of"`
		App        string `json:"app"`
	} `json:"actor"`
	Subject string          `json:"subject"`
	Data    json.RawMessage `json:"data"`
}

// auditPage shows the feed, filtered by type (the API's filter) and by
// actor (the feed's pages walked, up to 20 of them, filtered here),
// paged by the feed's next_after.
func (s *Console) auditPage(c echo.Context, p person) error {
	typ, actor := c.QueryParam("type"), c.QueryParam("actor")
	after, _ := strconv.ParseUint(c.QueryParam("after"), 10, 64)
	const want = 50
	var items []feedItem
	next := after
	for range 20 {
		q := url.Values{"limit": {"200"}, "after": {strconv.FormatUint(next, 10)}}
		if typ != "" {
			q.Set("type", typ)
		}
		var page struct {
			Items     []feedItem `json:"items"`
			NextAfter uint64     `json:"next_after"`
		}
		a, err := s.get(c, p.Principal, "/v1/platform/events?"+q.Encode(), &page)
		if err != nil || !a.ok() {
			return s.orFailed(c, p, a, err)
		}
		for _, it := range page.Items {
			next = it.Seq
			if actor == "" || it.Actor.ID == actor || it.Actor.OnBehalfOf == actor || it.Actor.App == actor {
				items = append(items, it)
			}
			if len(items) == want {
				break
			}
		}
		if len(items) == want || (len(page.Items) == 0 && page.NextAfter <= next) {
			break
		}
		next = max(next, page.NextAfter)
	}
	return s.render(c, http.StatusOK, "audit", p, view{Title: "Audit feed", Nav: "audit", Data: struct {
		Type, Actor string
		More        bool
		After       uint64
		Items       []feedItem
	}{typ, actor, len(items) == want, next, items}})
}
