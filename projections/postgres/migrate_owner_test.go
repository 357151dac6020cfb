package postgres_test

import (
	"context"
	"fmt"
	"io/fs"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/migrations"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/projections/postgres"
	"github.com/gatehouse/gatehouse/projections/postgres/pgtest"
	"github.com/gatehouse/gatehouse/projections/projectionstest"
)

// TestMigrationBackfillsWebhookOwners: migration 00002 on a schema that
// a build of migration 00001 filled (webhooks of several apps, and
// documents of other kinds) gives every document the owner the projector
// writes today: the migrated tables hold what replaying the same events
// into a fresh store holds (the memory store's documents, Owner
// included), and each app's webhooks are listed from its index.
func TestMigrationBackfillsWebhookOwners(t *testing.T) {
	pool := pgtest.Pool(t, "")
	schema := pgtest.Schema(t, pool)
	ctx := t.Context()
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		t.Fatal(err)
	}
	cc := pool.Config().ConnConfig.Copy()
	cc.RuntimeParams["search_path"] = ident
	db := stdlib.OpenDB(*cc)
	defer func() { _ = db.Close() }()
	dir, err := fs.Sub(migrations.FS, migrations.Dir)
	if err != nil {
		t.Fatal(err)
	}
	gp, err := goose.NewProvider(goose.DialectPostgres, db, dir, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gp.UpTo(ctx, 1); err != nil {
		t.Fatal(err)
	}

	// What the projector wrote: webhooks of three apps, an app, a quota.
	want := memory.New()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	err = want.Update(ctx, events.Control, 1, func(tx projections.Tx) error {
		for i := range 30 {
			e := projectionstest.WebhookCreated("t1", fmt.Sprintf("wh_%02d", i), fmt.Sprintf("app_%d", i%3), t0.Add(time.Duration(i)*time.Second), uint64(i+1))
			if err := projections.Apply(tx, e); err != nil {
				return err
			}
		}
		q := events.MustNew(events.QuotaRef("t1", events.QuotaWebhooks, "app_0"), events.Actor{Kind: events.ActorApp, ID: "app_0"}, t0,
			&events.QuotaCounted{Kind: events.QuotaWebhooks, Owner: "app_0", Count: 10})
		q.Seq = 31
		return projections.Apply(tx, q)
	})
	if err != nil {
		t.Fatal(err)
	}
	docs := want.Docs()
	// The rows as a build of migration 00001 stored them: no owner.
	for _, d := range docs {
		if _, err := pool.Exec(ctx, "INSERT INTO "+ident+".documents (kind, id, tenant, sort, keys, body) VALUES ($1, $2, $3, $4, $5, $6)",
			d.Kind, d.ID, d.Tenant, d.Sort, append([]string{}, d.Keys...), d.Body); err != nil {
			t.Fatal(err)
		}
	}

	s := open(t, pool, postgres.Config{Schema: schema}) // migrates to the latest
	got, err := s.Docs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	owners := 0
	for i := range docs {
		if docs[i].Owner != "" {
			owners++
		}
	}
	if owners != 30 || !reflect.DeepEqual(got, docs) {
		t.Fatalf("after the migration (%d owned documents written):\n got %v\nwant %v", owners, ownersOf(got), ownersOf(docs))
	}
	for app, n := range map[string]int{"app_0": 10, "app_1": 10, "app_2": 10, "app_3": 0} {
		hooks, next, err := projections.ListAppWebhooks(context.Background(), s, "t1", app, projections.Page{Limit: 50})
		if err != nil || len(hooks) != n || next != "" {
			t.Fatalf("%s: %d webhooks, next %q, %v", app, len(hooks), next, err)
		}
		for _, h := range hooks {
			if h.AppID != app {
				t.Fatalf("%s lists %s of %s", app, h.ID, h.AppID)
			}
		}
	}
}

// TestOwnerOfAnEarlierBuildsWrite: during a rolling upgrade an instance
// of a build before migration 00002 still writes webhook rows without an
// owner (an insert, and an upsert of one already stored); the migration's
// trigger gives each the owner its body names, so the app's list, read
// from the owner index, still holds it.
func TestOwnerOfAnEarlierBuildsWrite(t *testing.T) {
	pool := pgtest.Pool(t, "")
	schema := pgtest.Schema(t, pool)
	ctx := t.Context()
	s := open(t, pool, postgres.Config{Schema: schema}) // migrated to the latest
	ident := pgx.Identifier{schema}.Sanitize()
	src := memory.New()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	err := src.Update(ctx, events.Control, 1, func(tx projections.Tx) error {
		for i, app := range []string{"app_a", "app_b"} {
			if err := projections.Apply(tx, projectionstest.WebhookCreated("t1", fmt.Sprintf("wh_%d", i), app, t0, uint64(i+1))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The earlier build's statements name no owner: wh_0 is inserted,
	// wh_1 inserted under another body and then upserted.
	old := "INSERT INTO " + ident + ".documents (kind, id, tenant, sort, keys, body) VALUES ($1, $2, $3, $4, $5, $6) " +
		"ON CONFLICT (kind, id) DO UPDATE SET tenant = EXCLUDED.tenant, sort = EXCLUDED.sort, keys = EXCLUDED.keys, body = EXCLUDED.body"
	for _, d := range src.Docs() {
		if d.Kind != "webhook" {
			continue
		}
		if d.ID == "wh_1" {
			if _, err := pool.Exec(ctx, "INSERT INTO "+ident+".documents (kind, id, tenant, sort, keys, body, owner) VALUES ($1, $2, $3, $4, $5, $6, '')",
				d.Kind, d.ID, d.Tenant, d.Sort, []string{}, []byte(`{}`)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := pool.Exec(ctx, old, d.Kind, d.ID, d.Tenant, d.Sort, append([]string{}, d.Keys...), d.Body); err != nil {
			t.Fatal(err)
		}
	}
	for i, app := range []string{"app_a", "app_b"} {
		hooks, _, err := projections.ListAppWebhooks(ctx, s, "t1", app, projections.Page{Limit: 50})
		if err != nil || len(hooks) != 1 || hooks[0].ID != fmt.Sprintf("wh_%d", i) {
			t.Fatalf("%s lists %+v, %v; want its one webhook written without an owner", app, hooks, err)
		}
	}
}

func ownersOf(docs []projections.Doc) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.Kind + "/" + d.ID + ":" + d.Owner
	}
	return out
}
