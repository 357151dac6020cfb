package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/projections/postgres/pgtest"
)

// TestListsAreKeyProbes: within an Update's transaction, the statements
// that take lists of rows are nested loops of primary-key probes, in the
// plan of the first executions (custom) and in the one PostgreSQL caches
// later (generic), never a scan of a kind's keys (see statements).
func TestListsAreKeyProbes(t *testing.T) {
	pool := pgtest.Pool(t, "")
	schema := pgtest.Schema(t, pool)
	if _, err := Migrate(t.Context(), pool, schema); err != nil {
		t.Fatal(err)
	}
	sql := newStatements(schema)
	ctx := t.Context()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	const n = 2000
	kinds, names := slices.Repeat([]string{"app"}, n), make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("name:t1/app_%d", i)
	}
	if _, err := tx.Exec(ctx, sql.insertKeys, kinds, names, names); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, sql.indexOnly); err != nil {
		t.Fatal(err)
	}
	for name, stmt := range map[string]string{"loadKeys": sql.loadKeys, "deleteKeys": sql.deleteKeys, "deleteDocs": sql.deleteDocs} {
		args := []any{kinds[:500], names[:500]}
		custom := explain(t, tx, "EXPLAIN "+stmt, args...)
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "PREPARE p_"+name+" AS "+stmt); err != nil {
			t.Fatal(err)
		}
		generic := explain(t, tx, fmt.Sprintf("EXPLAIN EXECUTE p_%s('%s', '%s')", name, arrayLiteral(kinds[:500]), arrayLiteral(names[:500])))
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = auto"); err != nil {
			t.Fatal(err)
		}
		for how, plan := range map[string]string{"custom": custom, "generic": generic} {
			probes := strings.Contains(plan, "Nested Loop") && strings.Contains(plan, "Index Scan using") &&
				strings.Contains(plan, "= (x.kind)") && !strings.Contains(plan, "Seq Scan") &&
				!strings.Contains(plan, "Hash") && !strings.Contains(plan, "Bitmap") && !strings.Contains(plan, "Materialize")
			if !probes {
				t.Errorf("%s (%s plan) is not a loop of key probes:\n%s", name, how, plan)
			}
		}
	}
}

// explain returns the plan EXPLAIN prints for sql.
func explain(t *testing.T, tx pgx.Tx, sql string, args ...any) string {
	t.Helper()
	rows, err := tx.Query(t.Context(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return strings.Join(lines, "\n")
}

// TestOwnerListIsAnIndexScan: a List of one owner's documents (listOwner)
// reads the partial index documents_owner_list, in the first executions'
// plan and in the generic one, never the tenant's list or the table.
func TestOwnerListIsAnIndexScan(t *testing.T) {
	pool := pgtest.Pool(t, "")
	schema := pgtest.Schema(t, pool)
	if _, err := Migrate(t.Context(), pool, schema); err != nil {
		t.Fatal(err)
	}
	sql := newStatements(schema)
	ctx := t.Context()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	if _, err := tx.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, "documents"}.Sanitize()+
		` (kind, id, tenant, sort, keys, body, owner) SELECT 'webhook', 'wh_' || i, 't1', lpad(i::text, 6, '0'), '{}', '\x7b7d', 'app_' || (i % 1000)
		FROM generate_series(1, 10000) i`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "ANALYZE "+pgx.Identifier{schema, "documents"}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	args := []any{"webhook", "t1", "", "", 51, "app_7"}
	custom := explain(t, tx, "EXPLAIN "+sql.listOwner, args...)
	if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "PREPARE p_owner AS "+sql.listOwner); err != nil {
		t.Fatal(err)
	}
	generic := explain(t, tx, "EXPLAIN EXECUTE p_owner('webhook', 't1', '', '', 51, 'app_7')")
	for how, plan := range map[string]string{"custom": custom, "generic": generic} {
		if !strings.Contains(plan, "documents_owner_list") || strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "documents_list ") {
			t.Errorf("listOwner (%s plan) does not read documents_owner_list:\n%s", how, plan)
		}
	}
}
