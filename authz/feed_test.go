package authz

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
)

// goldenDir holds one sample event per registered type (events/golden_test.go).
const goldenDir = "../events/testdata/golden"

// TestRedactDataGoldenSamples runs the feed's redaction over the golden
// sample of every registered event type: no member left names server-only
// material, no value of a removed member is left anywhere, every other
// member is kept as it was, and the members known to hold hashes or
// sealed values are among those removed.
func TestRedactDataGoldenSamples(t *testing.T) {
	mustGo := map[string][]string{
		"app.created":            {"secret_hash"},
		"app.secret.rotated":     {"secret_hash"},
		"key.created":            {"private_key_enc"},
		"webhook.created":        {"secret_sealed"},
		"webhook.secret.rotated": {"secret_sealed"},
		"idempotency.completed":  {"body_sealed"},
	}
	for _, typ := range events.Types() {
		t.Run(typ, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(goldenDir, typ+".json"))
			if err != nil {
				t.Fatalf("no golden sample of %s: %v", typ, err)
			}
			var e events.Event
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			out := redactData(e.Data)
			var before, after any
			if err := json.Unmarshal(e.Data, &before); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(out, &after); err != nil {
				t.Fatalf("redacted data is not JSON: %v\n%s", err, out)
			}
			var removed []string
			want := strip(before, &removed)
			if !reflect.DeepEqual(after, want) {
				t.Errorf("redacted %s\n got %s\nwant %s", typ, out, mustJSON(t, want))
			}
			for _, k := range mustGo[typ] {
				if !slices.Contains(removed, k) {
					t.Errorf("%s: %s was not removed (removed %v)", typ, k, removed)
				}
			}
			for _, v := range secretValues(before) {
				if strings.Contains(string(out), v) {
					t.Errorf("%s: a removed value %q is still in %s", typ, v, out)
				}
			}
		})
	}
}

// strip is the reference: v without server-only members and JWK private
// members, the removed names appended to removed.
func strip(v any, removed *[]string) any {
	switch v := v.(type) {
	case map[string]any:
		_, jwk := v["kty"]
		out := map[string]any{}
		for k, x := range v {
			if serverOnlyMember(k) || jwk && jwkPrivateMembers[k] {
				*removed = append(*removed, k)
				continue
			}
			out[k] = strip(x, removed)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = strip(x, removed)
		}
		return out
	}
	return v
}

// secretValues are the string values of every server-only member in v.
func secretValues(v any) []string {
	var out []string
	var walk func(any, bool)
	walk = func(v any, secret bool) {
		switch v := v.(type) {
		case map[string]any:
			_, jwk := v["kty"]
			for k, x := range v {
				walk(x, secret || serverOnlyMember(k) || jwk && jwkPrivateMembers[k])
			}
		case []any:
			for _, x := range v {
				walk(x, secret)
			}
		case string:
			if secret && len(v) >= 8 {
				out = append(out, v)
			}
		}
	}
	walk(v, false)
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestRedactDataNested: private JWK members and secret-named members go at
// any depth, in arrays too; everything else (numbers beyond float64's
// precision included) comes back byte for byte.
func TestRedactDataNested(t *testing.T) {
	in := `{"jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"X","y":"Y","d":"PRIVATE-D"},` +
		`{"kty":"RSA","n":"N","e":"AQAB","d":"D","p":"P","q":"Q","dp":"DP","dq":"DQ","qi":"QI"},` +
		`{"kty":"OKP","crv":"Ed25519","x":"X","d":"OKP-D"},{"kty":"oct","k":"SYMMETRIC"}]},` +
		`"metadata":{"deep":[{"client_secret":"cs-1234567890","Password":"pw","note":"kept"}],"secret_id":"sec_1"},` +
		`"big":12345678901234567890,"webhook":{"signing_secret":"whsec_x","private_key_pem":"-----BEGIN"}}`
	out := string(redactData(json.RawMessage(in)))
	for _, gone := range []string{"PRIVATE-D", `"D"`, `"P"`, `"Q"`, "DP", "DQ", "QI", "OKP-D", "SYMMETRIC", "cs-1234567890", `"pw"`, "whsec_x", "BEGIN"} {
		if strings.Contains(out, gone) {
			t.Errorf("%s left in %s", gone, out)
		}
	}
	for _, kept := range []string{`"x":"X"`, `"y":"Y"`, `"n":"N"`, `"e":"AQAB"`, `"note":"kept"`, `"secret_id":"sec_1"`, `"big":12345678901234567890`, `"kty":"oct"`} {
		if !strings.Contains(out, kept) {
			t.Errorf("%s missing from %s", kept, out)
		}
	}
	for _, same := range []string{`{"scope":"a:b","approvals":2}`, `[1,2,{"a":"b"}]`, `"text"`, `null`, `{"d":"not a JWK"}`} {
		if got := string(redactData(json.RawMessage(same))); got != same {
			t.Errorf("redactData(%s) = %s, want it unchanged", same, got)
		}
	}
}

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
// oldest first, without implementation events, redacted, paged by
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
			add(tenant, events.AppCreated{ClientID: "cl_" + app.ID, Name: app.ID, SecretID: "sec_1", SecretHash: "hmac-sha256:SECRETHASH"}, app)
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
			if strings.Contains(string(it.Data), "SECRETHASH") || it.Actor != (events.Actor{Kind: "app", ID: "app_admin"}) || !it.Time.Equal(now) || it.Seq <= after {
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
