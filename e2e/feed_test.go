package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// feedItem is one event of the audit feed, as a client decodes it.
type feedItem struct {
	Seq   uint64    `json:"seq"`
	ID    string    `json:"id"`
	Type  string    `json:"type"`
	Time  time.Time `json:"time"`
	Actor struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	} `json:"actor"`
	Subject string          `json:"subject"`
	Data    json.RawMessage `json:"data"`
}

// feedPage is one answer of the feed, its raw body kept.
type feedPage struct {
	Items     []feedItem `json:"items"`
	NextAfter *uint64    `json:"next_after"`
	raw       []byte
}

// feedGet reads one page of the feed; it must answer 200 with next_after.
func (a *api) feedGet(q url.Values) feedPage {
	a.t.Helper()
	r := a.call(http.MethodGet, "/v1/platform/events?"+q.Encode(), nil)
	if r.Status != http.StatusOK {
		a.t.Fatalf("feed ?%s: %s", q.Encode(), r)
	}
	var p feedPage
	r.decode(a.t, &p)
	if p.Items == nil || p.NextAfter == nil {
		a.t.Fatalf("feed ?%s: items or next_after missing: %s", q.Encode(), r.Body)
	}
	p.raw = r.Body
	return p
}

// feedPages pages through the feed by next_after from after 0 until a page
// leaves next_after where it was, checking each page's shape; it returns
// the events and how many pages held some.
func (a *api) feedPages(stream, types string, limit int) ([]feedItem, int) {
	a.t.Helper()
	var all []feedItem
	pages := 0
	after := uint64(0)
	for range 10_000 {
		q := url.Values{"stream": {stream}, "after": {fmt.Sprint(after)}, "limit": {fmt.Sprint(limit)}, "type": {types}}
		p := a.feedGet(q)
		for i, e := range p.Items {
			if e.Seq <= after || i > 0 && e.Seq < p.Items[i-1].Seq {
				a.t.Fatalf("feed ?%s: seq %d out of order (after %d)", q.Encode(), e.Seq, after)
			}
			if i >= limit && e.Seq != p.Items[limit-1].Seq {
				a.t.Fatalf("feed ?%s: %d items for limit %d, not of one packed message", q.Encode(), len(p.Items), limit)
			}
		}
		if *p.NextAfter == after {
			if len(p.Items) > 0 {
				a.t.Fatalf("feed ?%s: a page of %d items left next_after at %d", q.Encode(), len(p.Items), after)
			}
			return all, pages
		}
		if len(p.Items) > 0 {
			pages++
			if *p.NextAfter < p.Items[len(p.Items)-1].Seq {
				a.t.Fatalf("feed ?%s: next_after %d before the last item's seq", q.Encode(), *p.NextAfter)
			}
		}
		all = append(all, p.Items...)
		after = *p.NextAfter
	}
	a.t.Fatal("feed: no end after 10000 pages")
	return nil, 0
}

// jtiOf reads the jti claim of an access token (verified elsewhere).
func jtiOf(t *testing.T, token string) string {
	t.Helper()
	var c accessClaims
	if err := json.Unmarshal(mustDecodeSegment(t, strings.Split(token, ".")[1]), &c); err != nil || c.JTI == "" {
		t.Fatalf("no jti in the access token: %v", err)
	}
	return c.JTI
}

func feedTypes(items []feedItem) []string {
	out := make([]string, len(items))
	for i, e := range items {
		out[i] = e.Type
	}
	return out
}

// TestFeedStreamsAndPaging (API.md "Event feed"): a fresh tenant's control
// stream and high-volume stream, paged one event at a time and 500 at a
// time alike; token mints with the minting app as actor (the admin for a
// service token); type filters exact and by prefix; the default limit;
// subjects; no hash, sealed value or recorded secret anywhere in the feed;
// nothing of the tenant in the default tenant's feed.
func TestFeedStreamsAndPaging(t *testing.T) {
	t.Parallel()
	s := shared(t)
	root := adminAPI(t, s)
	a, _ := isolationTenant(t, s, root, "feed")
	admin := a.adminApp()
	app := a.createApp(map[string]any{"name": uniqueName(t, "app"), "requested_scopes": []string{"webhooks:read"}})
	a.call(http.MethodPatch, "/v1/platform/apps/"+app.ID, map[string]any{"metadata": map[string]any{"team": "feed"}})
	a.decide(app.ID, "webhooks:read", "approve", "reviewed")
	if r := a.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/secrets", map[string]any{"grace_period_seconds": 60}); r.Status != http.StatusCreated {
		t.Fatalf("rotate: %s", r)
	}
	// The old secret still works during the grace period; mint with it
	// and with the new one alike: the feed cares about the mints.
	var jtis []string
	var last string
	for range 53 {
		last = a.mint(appCreds(app)).AccessToken
		jtis = append(jtis, jtiOf(t, last))
	}
	if r := a.form("/v1/oauth/revoke", url.Values{"token": {last}}, app.ClientID, app.ClientSecret); r.Status != http.StatusOK {
		t.Fatalf("revoke: %s", r)
	}
	var st serviceTokenView
	if r := a.call(http.MethodPost, "/v1/platform/apps/"+app.ID+"/tokens", map[string]any{"ttl_seconds": 300}); r.Status != http.StatusCreated {
		t.Fatalf("service token: %s", r)
	} else {
		r.decode(t, &st)
	}

	// Control: the same events by 1 and by 500; subjects and actors.
	control, pages := a.feedPages("control", "", 1)
	byMany, _ := a.feedPages("control", "", 500)
	if pages < 5 || !slices.EqualFunc(control, byMany, func(x, y feedItem) bool { return x.ID == y.ID && x.Seq == y.Seq }) {
		t.Errorf("control feed by 1 (%d pages) %v\nby 500 %v", pages, feedTypes(control), feedTypes(byMany))
	}
	want := []string{"tenant.created", "app.created", "app.created", "app.updated", "app.scope.approved", "app.secret.rotated"}
	if got := feedTypes(control); !slices.Equal(got, want) {
		t.Errorf("control feed types %v, want %v", got, want)
	}
	for _, e := range control[2:] {
		if e.Subject != "app/"+app.ID || e.Actor.Kind != "app" || e.Actor.ID != admin.ID || e.ID == "" || e.Time.IsZero() {
			t.Errorf("%s: subject %q actor %+v id %q time %s", e.Type, e.Subject, e.Actor, e.ID, e.Time)
		}
	}
	var created map[string]any
	_ = json.Unmarshal(control[2].Data, &created)
	if created["client_id"] != app.ClientID || created["secret_id"] == nil || created["secret_hash"] != nil {
		t.Errorf("app.created data %s: want client_id and secret_id, no secret_hash", control[2].Data)
	}

	// Events: every mint, with the app as actor (the admin for the service
	// token), and the revocation; paged by 1 over many pages.
	hv, pages := a.feedPages("events", "", 1)
	if pages < len(jtis) {
		t.Errorf("events feed by 1 took %d pages for %d mints", pages, len(jtis))
	}
	minted := map[string]feedItem{}
	revoked := 0
	for _, e := range hv {
		var d struct {
			JTI   string `json:"jti"`
			AppID string `json:"app_id"`
		}
		_ = json.Unmarshal(e.Data, &d)
		switch e.Type {
		case "token.minted":
			minted[d.JTI] = e
		case "token.revoked":
			revoked++
		}
		if e.Subject != "token/"+d.AppID || d.AppID == "" {
			t.Errorf("%s: subject %q, app_id %q", e.Type, e.Subject, d.AppID)
		}
	}
	for _, jti := range jtis {
		if e, ok := minted[jti]; !ok || e.Actor.Kind != "app" || e.Actor.ID != app.ID {
			t.Errorf("token.minted of %s: %+v (present %v), want the app %s as actor", jti, e.Actor, ok, app.ID)
		}
	}
	if e, ok := minted[st.JTI]; !ok || e.Actor.ID != admin.ID {
		t.Errorf("token.minted of the service token: %+v (present %v), want the admin app %s as actor", e.Actor, ok, admin.ID)
	}
	if revoked != 1 {
		t.Errorf("%d token.revoked events, want 1", revoked)
	}

	// Filters: exact, by prefix, several; one that matches nothing ends
	// with next_after unchanged on its last page.
	for _, c := range []struct {
		stream, types string
		want          int
	}{
		{"events", "token.revoked", 1},
		{"events", "token.*", len(hv)},
		{"events", "token.minted", len(jtis) + 2}, // + the admin's own and the service token
		{"control", "app.scope.*,app.secret.*", 2},
		{"control", "app.created , tenant.created", 3},
		{"control", "nothing.here", 0},
	} {
		if got, _ := a.feedPages(c.stream, c.types, 500); len(got) != c.want {
			t.Errorf("?stream=%s&type=%s: %d events %v, want %d", c.stream, c.types, len(got), feedTypes(got), c.want)
		}
	}

	// The default limit is 50; past the end is an empty page.
	if p := a.feedGet(url.Values{"stream": {"events"}}); len(p.Items) != 50 {
		t.Errorf("default limit: %d items, want 50", len(p.Items))
	}
	if p := a.feedGet(url.Values{"after": {"18446744073709551615"}}); len(p.Items) != 0 || *p.NextAfter != 18446744073709551615 {
		t.Errorf("after the end: %d items, next_after %d", len(p.Items), *p.NextAfter)
	}

	// Nothing server-only or secret, in any page of either stream.
	var raw bytes.Buffer
	for _, stream := range []string{"control", "events"} {
		after := uint64(0)
		for range 100 {
			p := a.feedGet(url.Values{"stream": {stream}, "after": {fmt.Sprint(after)}, "limit": {"500"}})
			raw.Write(p.raw)
			if *p.NextAfter == after {
				break
			}
			after = *p.NextAfter
		}
	}
	for _, bad := range []string{"_hash", "_sealed", "_enc\"", "hmac-sha256", app.ClientSecret} {
		if strings.Contains(raw.String(), bad) {
			t.Errorf("the feed holds %q", bad)
		}
	}
	for i, sec := range leaks.all() {
		if strings.Contains(raw.String(), sec) {
			t.Errorf("the feed holds recorded secret #%d", i)
		}
	}

	// The default tenant's feed shows none of it, nor the events of no
	// tenant (signing keys, the bootstrap record: tenant "system").
	for _, stream := range []string{"control", "events"} {
		for _, e := range root.feed(t, stream, "") {
			if e.Subject == "app/"+app.ID || e.Data["app_id"] == app.ID || e.Data["jti"] == st.JTI {
				t.Errorf("the default tenant's %s feed shows %s of the other tenant", stream, e.Type)
			}
			if strings.HasPrefix(e.Type, "key.") || strings.HasPrefix(e.Type, "system.") || strings.HasPrefix(e.Subject, "key/") {
				t.Errorf("the default tenant's %s feed shows %s (%s)", stream, e.Type, e.Subject)
			}
		}
	}
}

// TestFeedValidation: every invalid parameter is a 400 validation_error
// naming it, all of them at once; the feed needs platform:audit:read.
func TestFeedValidation(t *testing.T) {
	t.Parallel()
	s := shared(t)
	a := adminAPI(t, s)
	for q, fields := range map[string][]string{
		"after=-1":                 {"after"},
		"after=1.5":                {"after"},
		"limit=0":                  {"limit"},
		"limit=501":                {"limit"},
		"limit=many":               {"limit"},
		"stream=audit":             {"stream"},
		"type=App.Created":         {"type"},
		"type=app.created,":        {"type"},
		"type=*":                   {"type"},
		"after=x&limit=0&stream=x": {"after", "limit", "stream"},
	} {
		p := wantProblem(t, a.call(http.MethodGet, "/v1/platform/events?"+q, nil), http.StatusBadRequest, "validation_error")
		if !equalStrings(p.fields(), fields...) {
			t.Errorf("?%s: fields %v, want %v", q, p.fields(), fields)
		}
	}
	wantProblem(t, newAPI(t, s, "").call(http.MethodGet, "/v1/platform/events", nil), http.StatusUnauthorized, "unauthorized")
	app := a.createApp(map[string]any{"name": uniqueName(t, "no-audit"), "requested_scopes": []string{"platform:apps:read"}})
	a.decide(app.ID, "platform:apps:read", "approve", "")
	wantProblem(t, a.as(a.mint(appCreds(app)).AccessToken).call(http.MethodGet, "/v1/platform/events", nil), http.StatusForbidden, "insufficient_scope")
}
