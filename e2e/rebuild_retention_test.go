package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/projections/postgres/pgtest"
)

// TestRebuildEqualsLiveAfterRetention (invariants 6 and 8): a server on
// PostgreSQL projections with short retention settings serves traffic
// until retention has dropped records of every kind it can drop here
// (idempotency records past 2 s, failed deliveries' bodies, deliveries
// beyond the newest 2 per webhook; a revoked token's record, kept); it is stopped, and `gatehouse projections rebuild
// --keep-old` replays the log into a fresh schema. The rebuilt tables
// (documents, unique keys, checkpoints) equal the live ones row for row,
// and the kept old tables are the live ones untouched.
func TestRebuildEqualsLiveAfterRetention(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t, "")
	schema := pgtest.Schema(t, pool)
	s := startServer(t, withEnv("DATABASE_URL", pgtest.URL()), withEnv("DATABASE_SCHEMA", schema),
		withEnv("IDEMPOTENCY_RETENTION", "2s"), withEnv("WEBHOOK_DELIVERY_RETENTION_COUNT", "2"),
		withEnv("WEBHOOK_ALLOW_PRIVATE", "true"), withEnv("WEBHOOK_RETRY_SCHEDULE", "100ms,100ms"), withEnv("WEBHOOK_TIMEOUT", "2s"))
	a := adminAPI(t, s)
	count := func(kind string) int {
		var n int
		if err := pool.QueryRow(ctx(t), "SELECT count(*) FROM "+pgx.Identifier{schema, "documents"}.Sanitize()+" WHERE kind = $1", kind).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// A revoked token of the shortest lifetime (60 s): its record goes
	// once the token has expired.
	short := a.createApp(map[string]any{"name": uniqueName(t, "short"), "access_token_ttl_seconds": 60})
	tok := a.mint(appCreds(short)).AccessToken
	if r := (caller{id: short.ClientID, secret: short.ClientSecret}).post(a, "/v1/oauth/revoke", url.Values{"token": {tok}}); r.Status != http.StatusOK {
		t.Fatalf("revoke = %s", r)
	}
	if n := count("revoked_token"); n != 1 {
		t.Fatalf("%d revoked_token documents after one revocation, want 1", n)
	}
	// Idempotent creates, replayed once each.
	for i := range 4 {
		key, body := "rebuild-"+rand.Text(), map[string]any{"name": uniqueName(t, fmt.Sprint("idem", i))}
		for range 2 {
			if r := a.call(http.MethodPost, "/v1/platform/apps", body, "Idempotency-Key", key); r.Status != http.StatusCreated {
				t.Fatalf("idempotent create = %s", r)
			}
		}
	}
	if count("idempotency") == 0 {
		t.Fatal("no idempotency record was kept at all")
	}
	// Two webhooks, one whose endpoint fails everything, five events each.
	typ, _ := webhookTenant(t, a)
	okRcv, badRcv := newReceiver(t), newReceiver(t)
	badRcv.mu.Lock()
	badRcv.answer = func(int, string) (int, http.Header) { return http.StatusBadGateway, nil }
	badRcv.mu.Unlock()
	okHook, badHook := a.subscribe(okRcv.srv.URL, typ), a.subscribe(badRcv.srv.URL, typ)
	for i := range 5 {
		a.publish(typ, map[string]any{"n": i, "pad": strings.Repeat("x", 4<<10)})
	}
	settled := func(hook, status string) bool {
		ds := a.deliveries(hook, "")
		for _, d := range ds {
			if d.Status != status {
				return false
			}
		}
		return len(ds) == 2
	}
	waitFor(t, 2*time.Minute, "every delivery to end, 2 kept per webhook", func() bool {
		return len(okRcv.received()) == 5 && len(badRcv.received()) == 15 && settled(okHook.ID, "delivered") && settled(badHook.ID, "failed")
	})
	// Retention by the log's clock (moved by clock.ticked when idle): the
	// idempotency records go after 2 s. (The revocation stays: it goes 5
	// minutes after its token's expiry, projections.RevocationGrace, too
	// long for this test; it is compared as kept, with its expiry.)
	waitFor(t, 2*time.Minute, "the idempotency records to go", func() bool { return count("idempotency") == 0 })
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	tables := []string{"documents", "unique_keys", "checkpoints"}
	live := dumpSchema(t, pool, schema, tables)
	if len(live["documents"]) < 30 {
		t.Fatalf("the live schema has only %d documents: the workload did not run", len(live["documents"]))
	}
	// What retention left: 2 deliveries per webhook, none with a body.
	deliveries := 0
	for k, v := range live["documents"] {
		if strings.HasPrefix(k, "delivery/") {
			deliveries++
			if strings.Contains(v, strings.Repeat("x", 4<<10)) {
				t.Errorf("the ended delivery %s kept its body", k)
			}
		}
	}
	if deliveries != 4 {
		t.Errorf("the live schema has %d delivery documents, want the newest 2 of each webhook's 5", deliveries)
	}
	cmd := exec.Command(s.bin, "projections", "rebuild", "--keep-old")
	cmd.Env = s.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("projections rebuild: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), tail(errOut.String(), 4<<10))
	}
	m := regexp.MustCompile(`previous tables are in schema (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the rebuild did not say where the old tables are:\n%s", out.String())
	}
	old := m[1]
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(c, "DROP SCHEMA IF EXISTS "+pgx.Identifier{old}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", old, err)
		}
	})
	rebuilt := dumpSchema(t, pool, schema, tables)
	for _, table := range tables {
		diffRows(t, table+" (live vs rebuilt)", live[table], rebuilt[table])
	}
	kept := dumpSchema(t, pool, old, tables)
	for _, table := range tables {
		diffRows(t, table+" (live vs kept old)", live[table], kept[table])
	}
}

// dumpSchema reads every row of tables in schema as text, keyed by the
// primary key's columns.
func dumpSchema(t *testing.T, pool *pgxpool.Pool, schema string, tables []string) map[string]map[string]string {
	t.Helper()
	queries := map[string]string{
		"documents":   "SELECT kind || '/' || id, tenant || ' ' || sort || ' ' || array_to_string(keys, ',') || ' ' || encode(body, 'escape') FROM %s",
		"unique_keys": "SELECT kind || '/' || key, id FROM %s",
		"checkpoints": "SELECT stream, seq::text FROM %s",
	}
	out := map[string]map[string]string{}
	for _, table := range tables {
		rows, err := pool.Query(ctx(t), fmt.Sprintf(queries[table], pgx.Identifier{schema, table}.Sanitize()))
		if err != nil {
			t.Fatalf("dump %s.%s: %v", schema, table, err)
		}
		got := map[string]string{}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				t.Fatal(err)
			}
			got[k] = v
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		out[table] = got
	}
	return out
}

// diffRows reports every key whose row differs between want and got.
func diffRows(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	bad := 0
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s: %s only in the first:\n  %s", what, k, tail(w, 600))
			bad++
		} else if g != w {
			t.Errorf("%s: %s differs:\n  %s\n  %s", what, k, tail(w, 600), tail(g, 600))
			bad++
		}
		if bad > 10 {
			t.Fatalf("%s: more differences left out", what)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s only in the second:\n  %s", what, k, tail(g, 600))
		}
	}
}
