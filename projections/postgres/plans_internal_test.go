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
