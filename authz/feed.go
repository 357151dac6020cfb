package authz

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/events"
)

// Feed serves the audit feed GET /v1/platform/events (API.md "Event
// feed"): the caller's tenant's events read from the log itself, oldest
// first. ?stream=control (the default) is the control plane: tenants,
// apps, scopes and their decisions, secrets, catalogs, webhook
// subscriptions; ?stream=events is the high-volume stream: token mints and
// revocations, published events, webhook deliveries. seq is the event's
// sequence in that stream; next_after continues the feed.
type Feed struct {
	Log events.Scanner
}

// Register adds the feed route under g (/v1/platform).
func (f *Feed) Register(g *echo.Group, auth *Authenticator) {
	g.GET("/events", f.list, auth.Require("platform:audit:read"))
}

// feedScanBudget bounds the messages one request looks at.
const feedScanBudget = 10_000

// feedItem is one event of the feed.
type feedItem struct {
	Seq     uint64          `json:"seq"`
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Time    time.Time       `json:"time"`
	Actor   feedActor       `json:"actor"`
	Subject string          `json:"subject"`
	Data    json.RawMessage `json:"data"`
}

type feedActor struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// feedPage is the answer of the feed.
type feedPage struct {
	Items     []feedItem `json:"items"`
	NextAfter uint64     `json:"next_after"`
}

func (f *Feed) list(c echo.Context) error {
	p := principal(c)
	var fe fieldErrs
	after, limit := uint64(0), 50
	if v := c.QueryParam("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			fe.add("after", "must be a sequence number (next_after of the previous page)")
		}
		after = n
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			fe.add("limit", "must be an integer from 1 to 500")
		}
		limit = n
	}
	stream := events.Control
	switch c.QueryParam("stream") {
	case "", "control":
	case "events":
		stream = events.HighVolume
	default:
		fe.add("stream", "must be control or events")
	}
	filter, ok := parseTypeFilter(c.QueryParam("type"))
	if !ok {
		fe.add("type", "must be event types separated by commas, each exact or ending in .* (e.g. app.*)")
	}
	if len(fe) > 0 {
		return Validation(fe...)
	}
	page := feedPage{Items: []feedItem{}, NextAfter: after}
	budget := feedScanBudget
	for budget > 0 && len(page.Items) < limit {
		evs, next, err := f.Log.Scan(c.Request().Context(), stream, p.Tenant, page.NextAfter, limit-len(page.Items), min(budget, 1000))
		if err != nil {
			return err
		}
		budget -= 1000
		for _, e := range evs {
			if hiddenFromFeed(e.Type) || !filter(e.Type) {
				continue
			}
			page.Items = append(page.Items, feedItem{
				Seq: e.Seq, ID: e.ID, Type: e.Type, Time: e.Time,
				Actor:   feedActor{Kind: e.Actor.Kind, ID: e.Actor.ID},
				Subject: e.Aggregate.Type + "/" + e.Aggregate.ID,
				Data:    redactData(e.Data),
			})
		}
		if next == page.NextAfter {
			break // the end of the log, for now
		}
		page.NextAfter = next
	}
	return c.JSON(http.StatusOK, page)
}

// hiddenFromFeed: implementation events (unique-name claims, idempotency
// records) are nobody's business.
func hiddenFromFeed(typ string) bool {
	return strings.HasPrefix(typ, "name.") || strings.HasPrefix(typ, "idempotency.")
}

// parseTypeFilter reads ?type=: comma-separated event types, each exact or
// a prefix ending in ".*".
func parseTypeFilter(v string) (func(string) bool, bool) {
	if v == "" {
		return func(string) bool { return true }, true
	}
	var exact []string
	var prefixes []string
	for _, t := range strings.Split(v, ",") {
		t = strings.TrimSpace(t)
		switch {
		case t == "" || len(t) > maxCatalogName:
			return nil, false
		case strings.HasSuffix(t, ".*"):
			prefixes = append(prefixes, strings.TrimSuffix(t, "*"))
		default:
			exact = append(exact, t)
		}
	}
	return func(typ string) bool {
		for _, e := range exact {
			if typ == e {
				return true
			}
		}
		for _, p := range prefixes {
			if strings.HasPrefix(typ, p) {
				return true
			}
		}
		return false
	}, true
}

// redactData removes server-only material from an event's data: keyed
// hashes and sealed values (API.md: no event shown holds a secret).
func redactData(data json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return data
	}
	changed := false
	for k := range m {
		if serverOnlyField(k) {
			delete(m, k)
			changed = true
		}
	}
	if !changed {
		return data
	}
	out, err := json.Marshal(m)
	if err != nil {
		return json.RawMessage("{}")
	}
	return out
}

// serverOnlyField reports whether a payload field holds material only the
// server may see.
func serverOnlyField(k string) bool {
	return strings.HasSuffix(k, "_hash") || strings.HasSuffix(k, "_sealed") || strings.HasSuffix(k, "_enc") ||
		strings.HasPrefix(k, "secret") && k != "secret_id" || k == "body_sealed"
}
