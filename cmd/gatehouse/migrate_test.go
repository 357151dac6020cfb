package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/internal/quietport"
	"github.com/gatehouse/gatehouse/projections/postgres/pgtest"
)

// migrateOut runs `gatehouse migrate args` with env as the environment.
func migrateOut(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := migrate(t.Context(), args, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &out)
	return out.String(), err
}

// TestMigrateCommand: against a fresh database, migrate applies the
// schema once and says so, then finds nothing to do; --database-url wins
// over the variable and --schema puts the tables elsewhere.
func TestMigrateCommand(t *testing.T) {
	url := pgtest.Database(t)
	env := map[string]string{"GATEHOUSE_DATABASE_URL": url}
	out, err := migrateOut(t, env)
	if err != nil || out != "applied 00001_projections.sql\napplied 00002_document_owner.sql\nschema \"gatehouse\" is up to date: 2 migration(s) applied\n" {
		t.Fatalf("first migrate: %v\n%s", err, out)
	}
	wantTables(t, url, "gatehouse", "checkpoints", "documents", "goose_db_version", "unique_keys")
	out, err = migrateOut(t, env)
	if err != nil || out != "schema \"gatehouse\" is up to date: nothing to apply\n" {
		t.Fatalf("second migrate: %v\n%s", err, out)
	}
	env["GATEHOUSE_DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/nowhere" // the flag wins
	out, err = migrateOut(t, env, "--database-url", url, "--schema", "gate house")
	if err != nil || !strings.HasPrefix(out, "applied 00001_projections.sql\n") {
		t.Fatalf("migrate --schema: %v\n%s", err, out)
	}
	wantTables(t, url, "gate house", "checkpoints", "documents", "goose_db_version", "unique_keys")
}

// wantTables fails the test unless schema of the database at url holds
// exactly tables.
func wantTables(t *testing.T, url, schema string, tables ...string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	rows, _ := conn.Query(t.Context(), `SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1`, schema)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || !slices.Equal(got, tables) {
		t.Fatalf("schema %q holds %q (%v), want %q", schema, got, err, tables)
	}
}

// TestMigrateCommandErrors: a missing or malformed URL is a configuration
// error naming the variable (exit code 2), an unreachable database a
// failure (exit code 1), and nothing is printed as applied.
func TestMigrateCommandErrors(t *testing.T) {
	l, err := quietport.Listen()
	if err != nil {
		t.Fatal(err)
	}
	closed := "postgres://postgres@" + l.Addr().String() + "/test?connect_timeout=5"
	_ = l.Close()
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
		code int
	}{
		{"unset", nil, nil, "GATEHOUSE_DATABASE_URL (or --database-url) is not set", exitUsage},
		{"empty", map[string]string{"GATEHOUSE_DATABASE_URL": ""}, nil, "GATEHOUSE_DATABASE_URL (or --database-url) is not set", exitUsage},
		{"not postgres", map[string]string{"GATEHOUSE_DATABASE_URL": "mysql://db/x"}, nil, "GATEHOUSE_DATABASE_URL: must be a postgres://", exitUsage},
		{"empty schema", map[string]string{"GATEHOUSE_DATABASE_URL": closed}, []string{"--schema", ""}, "--schema: must not be empty", exitUsage},
		{"argument", nil, []string{"now"}, "migrate takes no arguments", exitUsage},
		{"unreachable", map[string]string{"GATEHOUSE_DATABASE_URL": closed}, nil, "store unavailable", exitError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := migrateOut(t, tc.env, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || out != "" {
				t.Fatalf("err %v, want one saying %q; stdout %q", err, tc.want, out)
			}
			if code := exitCode(err, &strings.Builder{}); code != tc.code {
				t.Fatalf("exit code %d, want %d", code, tc.code)
			}
		})
	}
	var ue usageError
	if _, err := migrateOut(t, nil, "--bogus"); !errors.As(err, &ue) {
		t.Fatalf("unknown flag: %v, want a usage error", err)
	}
	if out, err := migrateOut(t, nil, "-h"); err != nil || !strings.Contains(out, "Usage: gatehouse migrate") {
		t.Fatalf("-h: %v\n%s", err, out)
	}
}
