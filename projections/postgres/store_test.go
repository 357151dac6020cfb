package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/quietport"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/postgres"
	"github.com/gatehouse/gatehouse/projections/postgres/pgtest"
)

// TestMigrateConcurrently: instances starting at once migrate one after
// the other under the advisory lock: one applies the migrations, the
// others find nothing to do, and migrating again applies nothing.
func TestMigrateConcurrently(t *testing.T) {
	pool := pgtest.Pool(t, "")
	schema := pgtest.Schema(t, pool)
	const n = 6
	applied := make([][]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { applied[i], errs[i] = postgres.Migrate(t.Context(), pool, schema) })
	}
	wg.Wait()
	var total []string
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Migrate %d: %v", i, errs[i])
		}
		total = append(total, applied[i]...)
	}
	if want := []string{"00001_projections.sql", "00002_document_owner.sql"}; !slices.Equal(total, want) {
		t.Fatalf("concurrent migrations applied %q in all, want %q once", total, want)
	}
	again, err := postgres.Migrate(t.Context(), pool, schema)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Migrate applied %q, %v; want nothing", again, err)
	}
	var tables []string
	rows, _ := pool.Query(t.Context(), `SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1`, schema)
	tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if want := []string{"checkpoints", "documents", "goose_db_version", "unique_keys"}; err != nil || !slices.Equal(tables, want) {
		t.Fatalf("schema %s holds %q (%v), want %q", schema, tables, err, want)
	}
}

// TestOpenNeedsMigrations: a store on a schema without tables says what
// to run.
func TestOpenNeedsMigrations(t *testing.T) {
	pool := pgtest.Pool(t, "")
	_, err := postgres.Open(t.Context(), postgres.Config{Pool: pool, Schema: pgtest.Schema(t, pool)})
	if err == nil || !strings.Contains(err.Error(), "gatehouse migrate") {
		t.Fatalf("Open on an empty schema: %v; want an error naming gatehouse migrate", err)
	}
	if _, err := postgres.Open(t.Context(), postgres.Config{}); err == nil {
		t.Fatal("Open without URL or Pool succeeded")
	}
}

// TestBodiesAreByteExact: bodies (whitespace, key order, escapes,
// unicode, bytes that are not JSON at all) and keys that need quoting in
// an array literal come back unchanged from every read path: the readers,
// the writer's cache and, through a second store, the database.
func TestBodiesAreByteExact(t *testing.T) {
	pool := pgtest.Pool(t, "")
	s := open(t, pool, postgres.Config{})
	docs := []projections.Doc{
		{Kind: "app", ID: "order", Tenant: "t1", Sort: "1", Body: []byte(`{"z":1,"a":2,"m":{"y":true,"b":null}}`)},
		{Kind: "app", ID: "space", Tenant: "t1", Sort: "2", Body: []byte("  {\n\t\"x\" : [ 1 ,2 ]\r\n}  ")},
		{Kind: "app", ID: "unicode-é-日本", Tenant: "t1", Sort: "3", Body: []byte(`{"é":"日本語 🎉","esc":"\u00e9\n\"","dup":1,"dup":2}`)},
		{Kind: "app", ID: "binary", Tenant: "t1", Sort: "4", Body: []byte{0, 0xff, 0xfe, '{', 0}},
		{Kind: "app", ID: "empty", Tenant: "t1", Sort: "5", Body: nil},
		{Kind: "app", ID: "keys", Tenant: "t1", Sort: "6", Body: []byte(`{}`),
			Keys: []string{`name:t1/a "quoted" \back\slash`, "{brace},comma", "NULL", " spaced ", "ключ"}},
	}
	mustUpdate(t, s, events.Control, 1, func(tx projections.Tx) error {
		for _, d := range docs {
			if err := tx.Put(d); err != nil {
				return err
			}
		}
		return nil
	})
	other := open(t, pool, postgres.Config{Schema: s.Schema()}) // a cold cache: reads the database
	seq := uint64(0)
	for _, d := range docs {
		want, _ := d.Normalized()
		wantSame(t, "Get", mustGet(t, s, d.ID), want)
		for _, k := range want.Keys {
			got, err := s.Lookup(t.Context(), "app", k)
			if err != nil {
				t.Fatalf("Lookup %q: %v", k, err)
			}
			wantSame(t, "Lookup", got, want)
		}
		for i, st := range []*postgres.Store{s, other} {
			seq++
			mustUpdate(t, st, events.HighVolume, seq, func(tx projections.Tx) error {
				got, err := tx.Get("app", d.ID)
				if err == nil {
					wantSame(t, fmt.Sprintf("tx.Get (store %d)", i), got, want)
				}
				return err
			})
		}
	}
	listed, _, err := s.List(t.Context(), "app", "t1", projections.Page{Limit: 10})
	if err != nil || len(listed) != len(docs) {
		t.Fatalf("List: %d docs, %v", len(listed), err)
	}
	for i, d := range docs {
		want, _ := d.Normalized()
		wantSame(t, "List", listed[i], want)
	}
}

// TestTextPostgresCannotHold: NUL and invalid UTF-8 in a kind, id,
// tenant, sort or key are ErrInvalid at Put, and not found by readers.
func TestTextPostgresCannotHold(t *testing.T) {
	pool := pgtest.Pool(t, "")
	s := open(t, pool, postgres.Config{})
	for _, d := range []projections.Doc{
		{Kind: "app", ID: "a\x00b", Body: []byte(`{}`)},
		{Kind: "app", ID: "a", Tenant: "\xff", Body: []byte(`{}`)},
		{Kind: "app", ID: "a", Sort: "x\x00", Body: []byte(`{}`)},
		{Kind: "app", ID: "a", Keys: []string{"k\xc3"}, Body: []byte(`{}`)},
	} {
		err := s.Update(t.Context(), events.Control, 1, func(tx projections.Tx) error { return tx.Put(d) })
		if !errors.Is(err, projections.ErrInvalid) {
			t.Fatalf("Put %+v: %v, want ErrInvalid", d, err)
		}
	}
	if _, err := s.Get(t.Context(), "app", "a\x00b"); !errors.Is(err, projections.ErrNotFound) {
		t.Fatalf("Get of a NUL id: %v", err)
	}
	if _, err := s.Lookup(t.Context(), "app", "k\xc3"); !errors.Is(err, projections.ErrNotFound) {
		t.Fatalf("Lookup of an invalid key: %v", err)
	}
	wantCheckpoint(t, s, events.Control, 0)
}

// TestWritersShareASchema: two stores on one schema (two instances)
// taking turns: each sees what the other committed, however much its own
// cache remembers of what it wrote before.
func TestWritersShareASchema(t *testing.T) {
	pool := pgtest.Pool(t, "")
	a := open(t, pool, postgres.Config{})
	b := open(t, pool, postgres.Config{Schema: a.Schema()})
	doc := func(id, body string, keys ...string) projections.Doc {
		return projections.Doc{Kind: "app", ID: id, Tenant: "t1", Sort: id, Keys: keys, Body: []byte(body)}
	}
	mustUpdate(t, a, events.Control, 1, puts(doc("x", `{"v":1}`, "k:1")))
	mustUpdate(t, b, events.Control, 2, func(tx projections.Tx) error {
		if got, err := tx.Get("app", "x"); err != nil || string(got.Body) != `{"v":1}` {
			return fmt.Errorf("b reads x as %s, %v", got.Body, err)
		}
		return tx.Put(doc("x", `{"v":2}`, "k:2"))
	})
	// a remembers x at v1 holding k:1; b moved the checkpoint, so a
	// must not trust that memory.
	if err := a.Update(t.Context(), events.Control, 2, puts(doc("stale", `{}`))); !errors.Is(err, projections.ErrStaleCheckpoint) {
		t.Fatalf("a at a checkpoint b passed: %v", err)
	}
	mustUpdate(t, a, events.Control, 3, func(tx projections.Tx) error {
		if got, err := tx.Get("app", "x"); err != nil || string(got.Body) != `{"v":2}` {
			return fmt.Errorf("a reads x as %s, %v; want b's v2", got.Body, err)
		}
		if _, err := tx.Lookup("app", "k:1"); !errors.Is(err, projections.ErrNotFound) {
			return fmt.Errorf("a still sees k:1 held: %v", err)
		}
		if err := tx.Put(doc("z", `{}`, "k:2")); !errors.Is(err, projections.ErrKeyConflict) {
			return fmt.Errorf("a took k:2 from x: %v", err)
		}
		return tx.Put(doc("y", `{"v":1}`, "k:1"))
	})
	mustUpdate(t, b, events.Control, 4, func(tx projections.Tx) error {
		if d, err := tx.Lookup("app", "k:1"); err != nil || d.ID != "y" {
			return fmt.Errorf("b sees k:1 held by %q, %v; want y", d.ID, err)
		}
		return tx.Delete("app", "x")
	})
	mustUpdate(t, a, events.Control, 5, func(tx projections.Tx) error {
		if _, err := tx.Get("app", "x"); !errors.Is(err, projections.ErrNotFound) {
			return fmt.Errorf("a still sees x: %v", err)
		}
		return tx.Put(doc("z", `{}`, "k:2")) // released with x
	})
	if d, err := b.Lookup(t.Context(), "app", "k:2"); err != nil || d.ID != "z" {
		t.Fatalf("k:2 held by %q, %v; want z", d.ID, err)
	}
}

// TestUnreachableIsUnavailable: a database that cannot be reached gives
// errors wrapping ErrUnavailable, so the projector retries.
func TestUnreachableIsUnavailable(t *testing.T) {
	l, err := quietport.Listen()
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there now
	_, err = postgres.Open(t.Context(), postgres.Config{URL: "postgres://postgres@" + addr + "/test?connect_timeout=5"})
	if !errors.Is(err, projections.ErrUnavailable) {
		t.Fatalf("Open on a closed port: %v, want ErrUnavailable", err)
	}
	if _, err := postgres.Migrate(t.Context(), closedPool(t, addr), "x"); !errors.Is(err, projections.ErrUnavailable) {
		t.Fatalf("Migrate on a closed port: %v, want ErrUnavailable", err)
	}
}

// closedPool is a pool of the server at addr that nothing answers.
func closedPool(t *testing.T, addr string) *pgxpool.Pool {
	pool, err := pgxpool.New(t.Context(), "postgres://postgres@"+addr+"/test?connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// TestTerminatedConnections: when the server ends the store's
// connections (pg_terminate_backend, as a failover or a restart does), an
// Update in progress fails with ErrUnavailable and writes nothing, a
// reader's query fails the same way, and the next attempts succeed on new
// connections.
func TestTerminatedConnections(t *testing.T) {
	admin := pgtest.Pool(t, "")
	app := pgtest.Name(t, "gh_")
	cfg, err := pgxpool.ParseConfig(pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false } // hand out dead connections
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s := open(t, admin, postgres.Config{Pool: pool, Schema: pgtest.Schema(t, admin)})
	doc := projections.Doc{Kind: "app", ID: "a", Tenant: "t1", Keys: []string{"k:a"}, Body: []byte(`{}`)}
	terminate := func() {
		t.Helper()
		var n int
		err := admin.QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n)
		if err != nil || n == 0 {
			t.Fatalf("terminated %d connections: %v", n, err)
		}
	}
	err = s.Update(t.Context(), events.Control, 1, func(tx projections.Tx) error {
		terminate()
		return tx.Put(doc)
	})
	if !errors.Is(err, projections.ErrUnavailable) {
		t.Fatalf("Update whose connection was ended: %v, want ErrUnavailable", err)
	}
	view := open(t, admin, postgres.Config{Schema: s.Schema()})
	if _, err := view.Get(t.Context(), "app", "a"); !errors.Is(err, projections.ErrNotFound) {
		t.Fatalf("after the failed Update: %v, want ErrNotFound", err)
	}
	wantCheckpoint(t, view, events.Control, 0)
	retry(t, func() error { return s.Update(t.Context(), events.Control, 1, puts(doc)) })
	terminate()
	if _, err := s.Get(t.Context(), "app", "a"); !errors.Is(err, projections.ErrUnavailable) {
		t.Fatalf("Get on an ended connection: %v, want ErrUnavailable", err)
	}
	retry(t, func() error { _, err := s.Get(t.Context(), "app", "a"); return err })
}

// retry calls f until it succeeds, as the projector does, failing the test
// on an error other than ErrUnavailable or after a few attempts (each
// failure drops one dead connection of the pool).
func retry(t *testing.T, f func() error) {
	t.Helper()
	var err error
	for range 10 {
		if err = f(); !errors.Is(err, projections.ErrUnavailable) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

func mustUpdate(t *testing.T, s projections.Store, stream events.Stream, seq uint64, fn func(projections.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), stream, seq, fn); err != nil {
		t.Fatalf("Update %s %d: %v", stream, seq, err)
	}
}

func puts(docs ...projections.Doc) func(projections.Tx) error {
	return func(tx projections.Tx) error {
		for _, d := range docs {
			if err := tx.Put(d); err != nil {
				return err
			}
		}
		return nil
	}
}

func mustGet(t *testing.T, s projections.Reader, id string) projections.Doc {
	t.Helper()
	d, err := s.Get(t.Context(), "app", id)
	if err != nil {
		t.Fatalf("Get app/%s: %v", id, err)
	}
	return d
}

// wantSame fails the test unless got is want, the body byte for byte.
func wantSame(t *testing.T, how string, got, want projections.Doc) {
	t.Helper()
	if !bytes.Equal(got.Body, want.Body) {
		t.Fatalf("%s %s: body %q, want %q", how, want.ID, got.Body, want.Body)
	}
	if got.Kind != want.Kind || got.ID != want.ID || got.Tenant != want.Tenant || got.Sort != want.Sort || !slices.Equal(got.Keys, want.Keys) {
		t.Fatalf("%s: %+v, want %+v", how, got, want)
	}
}

func wantCheckpoint(t *testing.T, s projections.Reader, stream events.Stream, want uint64) {
	t.Helper()
	cp, err := s.Checkpoint(t.Context())
	if err != nil || cp[stream] != want {
		t.Fatalf("checkpoint %v (%v), want %s at %d", cp, err, stream, want)
	}
}

// TestOpenNeedsTheLatestMigration: a schema behind this build's
// migrations is refused with what to run.
func TestOpenNeedsTheLatestMigration(t *testing.T) {
	pool := pgtest.Pool(t, "")
	schema := pgtest.Schema(t, pool)
	if _, err := postgres.Migrate(t.Context(), pool, schema); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(t.Context(), "DELETE FROM "+pgx.Identifier{schema, "goose_db_version"}.Sanitize()+" WHERE version_id > 1"); err != nil {
		t.Fatal(err)
	}
	_, err := postgres.Open(t.Context(), postgres.Config{Pool: pool, Schema: schema})
	if err == nil || !strings.Contains(err.Error(), "is at migration 1, this build needs 2: run `gatehouse migrate`") {
		t.Fatalf("Open on a schema behind: %v", err)
	}
}
