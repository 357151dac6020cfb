package authz

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/redact"
)

// Feed serves the audit feed GET /v1/platform/events (API.md "Event
// feed"): the caller's tenant's events read from the log itself (an
// events.Scanner, which reads only that tenant's messages), oldest first.
//
//   - ?stream=control (the default) is the control plane: the tenant, its
//     apps, scope requests and decisions, secrets, catalogs, webhook
//     subscriptions, users; ?stream=events is the high-volume stream: token
//     mints and revocations, published events, webhook deliveries. seq is
//     the event's sequence in that stream (the events of one packed message
//     share it).
//   - ?after= is the next_after of the previous page (default 0: from the
//     start); next_after is always present, and equal to after when there
//     is nothing new. A page may hold fewer than limit items (even none)
//     while next_after moves on: the server bounds the log it reads per
//     request. The feed has ended, for now, when next_after == after.
//   - ?limit= 1–500, default 50 (the events of one packed message are
//     never split, so a page may exceed it by a few).
//   - ?type= comma-separated event types, each exact ("app.created") or a
//     prefix ending in ".*" ("app.*", "app.scope.*").
//   - subject is "<aggregate type>/<aggregate id>" ("app/app_123").
//   - data is the event's payload redacted by the rule of all event data
//     that leaves the server (package redact: members named like a hash, a
//     sealed or encrypted value, a secret, a password, a token or a private
//     key, at any depth, and a JWK's private members). Implementation
//     events (name.* claims, idempotency.* records) are left out.
//
// Events that belong to no tenant (signing keys, the bootstrap marker,
// tenant-name claims) are in the tenant "system", which no token has, so
// no tenant's feed shows them.
type Feed struct {
	Log events.Scanner
}

// Register adds the feed route under g (/v1/platform).
func (f *Feed) Register(g *echo.Group, auth *oauth.Authenticator) {
	g.GET("/events", f.list, auth.Require("platform:audit:read"))
}

// Bounds of one request's read of the log: at most feedScanBudget
// messages, in Scans of feedScanStep.
const (
	feedScanBudget = 10_000
	feedScanStep   = 1000
	feedMaxLimit   = 500
)

// feedItem is one event of the feed.
type feedItem struct {
	Seq     uint64          `json:"seq"`
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Time    time.Time       `json:"time"`
	Actor   events.Actor    `json:"actor"`
	Subject string          `json:"subject"`
	Data    json.RawMessage `json:"data"`
}

// feedPage is the answer of the feed.
type feedPage struct {
	Items     []feedItem `json:"items"`
	NextAfter uint64     `json:"next_after"`
}

// feedQuery is a valid request of the feed.
type feedQuery struct {
	stream events.Stream
	after  uint64
	limit  int
	match  func(eventType string) bool
}

func (f *Feed) list(c echo.Context) error {
	q, fe := parseFeedQuery(c.QueryParams())
	if len(fe) > 0 {
		return httpapi.Validation(fe...)
	}
	page, err := f.page(c.Request().Context(), oauth.PrincipalOf(c).Tenant, q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

// parseFeedQuery reads the feed's parameters, naming every invalid one.
func parseFeedQuery(v url.Values) (feedQuery, fieldErrs) {
	var fe fieldErrs
	q := feedQuery{stream: events.Control, limit: 50}
	if s := v.Get("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			fe.add("after", "must be a sequence number (next_after of the previous page)")
		}
		q.after = n
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > feedMaxLimit {
			fe.add("limit", "must be an integer from 1 to %d", feedMaxLimit)
		}
		q.limit = n
	}
	switch v.Get("stream") {
	case "", string(events.Control):
	case string(events.HighVolume):
		q.stream = events.HighVolume
	default:
		fe.add("stream", "must be control or events")
	}
	match, ok := parseTypeFilter(v.Get("type"))
	if !ok {
		fe.add("type", "must be event types separated by commas, each exact or ending in .* (e.g. app.created,app.scope.*)")
	}
	q.match = match
	return q, fe
}

// page reads tenant's events after q.after, Scan by Scan, until it has
// q.limit items or the log (or the request's budget) ends.
func (f *Feed) page(ctx context.Context, tenant string, q feedQuery) (feedPage, error) {
	page := feedPage{Items: []feedItem{}, NextAfter: q.after}
	for budget := feedScanBudget; budget > 0 && len(page.Items) < q.limit; budget -= feedScanStep {
		evs, next, err := f.Log.Scan(ctx, q.stream, tenant, page.NextAfter, q.limit-len(page.Items), min(budget, feedScanStep))
		if err != nil {
			return feedPage{}, err
		}
		for _, e := range evs {
			if !hiddenFromFeed(e.Type) && q.match(e.Type) {
				page.Items = append(page.Items, newFeedItem(e))
			}
		}
		if next == page.NextAfter {
			break // the end of the tenant's events, for now
		}
		page.NextAfter = next
	}
	return page, nil
}

func newFeedItem(e events.Event) feedItem {
	return feedItem{
		Seq: e.Seq, ID: e.ID, Type: e.Type, Time: e.Time,
		Actor:   e.Actor, // with its chain: via, on_behalf_of
		Subject: e.Aggregate.Type + "/" + e.Aggregate.ID,
		Data:    redact.Data(e.Data),
	}
}

// hiddenFromFeed: implementation events (unique-name claims, idempotency
// records, quota counters) are nobody's business.
func hiddenFromFeed(typ string) bool {
	return strings.HasPrefix(typ, "name.") || strings.HasPrefix(typ, "quota.") || strings.HasPrefix(typ, "idempotency.") || typ == "clock.ticked"
}

// feedTypeRE is one entry of ?type=: an event type, or a prefix of
// dot-separated tokens followed by ".*".
var feedTypeRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(\.\*)?$`)

// parseTypeFilter reads ?type=: comma-separated event types, each exact or
// a prefix ending in ".*" ("app.*" matches app.created and
// app.scope.approved, not application.x). Empty matches every type.
func parseTypeFilter(v string) (func(string) bool, bool) {
	if v == "" {
		return func(string) bool { return true }, true
	}
	exact := map[string]bool{}
	var prefixes []string
	for _, t := range strings.Split(v, ",") {
		t = strings.TrimSpace(t)
		if len(t) > maxCatalogName || !feedTypeRE.MatchString(t) {
			return nil, false
		}
		if p, ok := strings.CutSuffix(t, "*"); ok {
			prefixes = append(prefixes, p)
		} else {
			exact[t] = true
		}
	}
	return func(typ string) bool {
		if exact[typ] {
			return true
		}
		for _, p := range prefixes {
			if strings.HasPrefix(typ, p) {
				return true
			}
		}
		return false
	}, true
}
