package authz

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
)

func TestParseFeedQuery(t *testing.T) {
	q, fe := parseFeedQuery(url.Values{})
	if len(fe) != 0 || q.stream != events.Control || q.after != 0 || q.limit != 50 || !q.match("anything.at_all") {
		t.Errorf("defaults = %+v %v", q, fe)
	}
	q, fe = parseFeedQuery(url.Values{"after": {"42"}, "limit": {"500"}, "stream": {"events"}, "type": {"token.minted"}})
	if len(fe) != 0 || q.stream != events.HighVolume || q.after != 42 || q.limit != 500 || !q.match("token.minted") || q.match("token.revoked") {
		t.Errorf("explicit = %+v %v", q, fe)
	}
	for _, c := range []struct {
		query  string
		fields []string
	}{
		{"after=-1", []string{"after"}},
		{"after=x", []string{"after"}},
		{"after=18446744073709551616", []string{"after"}},
		{"limit=0", []string{"limit"}},
		{"limit=501", []string{"limit"}},
		{"limit=ten", []string{"limit"}},
		{"stream=all", []string{"stream"}},
		{"stream=CONTROL", []string{"stream"}},
		{"type=,", []string{"type"}},
		{"after=x&limit=0&stream=x&type=*", []string{"after", "limit", "stream", "type"}},
	} {
		v, _ := url.ParseQuery(c.query)
		_, fe := parseFeedQuery(v)
		var got []string
		for _, e := range fe {
			got = append(got, e.Field)
		}
		if !slices.Equal(got, c.fields) {
			t.Errorf("?%s: invalid fields %v, want %v", c.query, got, c.fields)
		}
	}
}

func TestParseTypeFilter(t *testing.T) {
	match, ok := parseTypeFilter("app.scope.*, app.deleted,token.minted")
	if !ok {
		t.Fatal("a valid filter was refused")
	}
	for typ, want := range map[string]bool{
		"app.scope.approved": true, "app.scope.approval_added": true, "app.deleted": true, "token.minted": true,
		"app.created": false, "app.scope": false, "app.scopes.x": false, "token.revoked": false, "app.deleted.x": false,
	} {
		if match(typ) != want {
			t.Errorf("match(%s) = %v, want %v", typ, !want, want)
		}
	}
	if match, _ := parseTypeFilter("app.*"); !match("app.created") || match("application.created") || match("app") {
		t.Error("app.* must match app.created only among app.created, application.created, app")
	}
	for _, bad := range []string{",", "app.,x", "*", ".*", "app.**", "app.*.created", "App.created", "app created", "app.created,", strings.Repeat("a", 129)} {
		if _, ok := parseTypeFilter(bad); ok {
			t.Errorf("filter %q was accepted", bad)
		}
	}
}

// TestFeedPage reads pages from a real log: the tenant's own events only,
// oldest first, without implementation events, redacted (a hash, and a
// secret nested in the metadata), paged by
// next_after, filtered, and next_after = after when nothing is new.
func TestFeedPage(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	f := &Feed{Log: log}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	admin := events.Actor{Kind: events.ActorApp, ID: "app_admin"}
	var want []string
	add := func(tenant string, p events.Payload, ref events.Ref) {
		t.Helper()
		e := events.MustNew(ref, admin, now, p)
		if _, err := log.Append(t.Context(), events.Append{Events: []events.Event{e}}); err != nil {
			t.Fatal(err)
		}
		if tenant == "acme" && !hiddenFromFeed(e.Type) {
			want = append(want, e.Type+" "+e.Aggregate.ID)
		}
	}
	for i := range 4 {
		for _, tenant := range []string{"acme", "globex"} {
			app := events.Ref{Tenant: tenant, Type: events.AggApp, ID: fmt.Sprintf("app_%s_%d", tenant, i)}
			add(tenant, events.NameClaimed{Namespace: "app", Value: app.ID, Owner: app.ID}, events.NameRef(tenant, "app", app.ID))
			add(tenant, events.AppCreated{AppSettings: events.AppSettings{ClientID: "cl_" + app.ID, Name: app.ID}, SecretID: "sec_1", SecretHash: "hmac-sha256:SECRETHASH",
				Metadata: json.RawMessage(`{"deep":[{"client_secret":"NESTEDSECRET","note":"kept"}]}`)}, app)
			add(tenant, events.AppDeleted{ClientID: "cl_" + app.ID}, app)
		}
	}
	read := func(q feedQuery) feedPage {
		t.Helper()
		if q.match == nil {
			q.match = func(string) bool { return true }
		}
		p, err := f.page(t.Context(), "acme", q)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	var got []string
	after := uint64(0)
	for range 20 {
		p := read(feedQuery{stream: events.Control, after: after, limit: 3})
		if len(p.Items) > 3 {
			t.Fatalf("limit 3 gave %d items", len(p.Items))
		}
		for _, it := range p.Items {
			got = append(got, it.Type+" "+strings.TrimPrefix(it.Subject, "app/"))
			if strings.Contains(string(it.Data), "SECRETHASH") || strings.Contains(string(it.Data), "NESTEDSECRET") ||
				it.Type == "app.created" && !strings.Contains(string(it.Data), `"deep":[{"note":"kept"}]`) || it.Actor != (events.Actor{Kind: "app", ID: "app_admin"}) || !it.Time.Equal(now) || it.Seq <= after {
				t.Errorf("item %+v (data %s)", it, it.Data)
			}
		}
		if p.NextAfter == after {
			if len(p.Items) != 0 {
				t.Fatalf("a page of %d items did not move next_after", len(p.Items))
			}
			break
		}
		after = p.NextAfter
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged feed\n %v\nwant\n %v", got, want)
	}
	match, _ := parseTypeFilter("app.deleted")
	if p := read(feedQuery{stream: events.Control, limit: 500, match: match}); len(p.Items) != 4 || p.Items[0].Type != "app.deleted" {
		t.Errorf("type filter gave %d items", len(p.Items))
	}
	if p := read(feedQuery{stream: events.HighVolume, limit: 50, after: 7}); len(p.Items) != 0 || p.NextAfter != 7 {
		t.Errorf("an empty stream gave %+v, want no items and next_after 7", p)
	}
	if b, _ := json.Marshal(read(feedQuery{stream: events.HighVolume, limit: 50})); string(b) != `{"items":[],"next_after":0}` {
		t.Errorf("an empty page encodes as %s", b)
	}
}
