// Package pgtest gives tests a real PostgreSQL: the machine's server
// (127.0.0.1:5432, or GATEHOUSE_TEST_DATABASE_URL), a fresh schema or a
// fresh database per test, dropped when the test ends. No mocks: the
// stores under test talk to the server the production store talks to.
//
// A test that cannot reach the server fails, unless the developer opted
// out with GATEHOUSE_SKIP_SERVICES=1, which makes it skip (see Missing).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultURL is the machine's PostgreSQL (trust authentication).
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL is the database the tests use: GATEHOUSE_TEST_DATABASE_URL or
// DefaultURL.
func URL() string {
	if u := os.Getenv("GATEHOUSE_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Pool returns a pool on url (URL() when empty), closed when the test
// ends; it fails (or, with GATEHOUSE_SKIP_SERVICES=1, skips) the test
// when the server does not answer.
func Pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	if url == "" {
		url = URL()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, url)
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		Missing(t, "PostgreSQL at %s (start it with scripts/services.sh): %v", redact(url), err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// SkipEnv opts out of the machine's services: set to 1, a test that
// needs PostgreSQL or NATS and cannot reach it skips instead of failing.
const SkipEnv = "GATEHOUSE_SKIP_SERVICES"

// Missing ends a test whose service (PostgreSQL, the machine's NATS) does
// not answer: it fails, or skips when SkipEnv is 1. `make test` must not
// pass on a machine where the tests of the production store never ran.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(SkipEnv) == "1" {
		t.Skipf("%s=1: skipped: "+format, append([]any{SkipEnv}, args...)...)
	}
	t.Fatalf("unavailable: "+format+" (set %s=1 to skip such tests)", append(args, SkipEnv)...)
}

// Name returns a fresh lower-case identifier: prefix and 16 hex digits.
func Name(t testing.TB, prefix string) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return prefix + hex.EncodeToString(b[:])
}

// Schema returns the name of a schema that does not exist yet in the
// database of pool; whatever the test creates under that name is dropped
// when it ends.
func Schema(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	name := Name(t, "t_")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// Database creates a fresh, empty database on the server of URL() and
// returns its URL; it is dropped (its connections ended) when the test
// ends.
func Database(t testing.TB) string {
	t.Helper()
	admin := Pool(t, "")
	name := Name(t, "gh_test_")
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := admin.Exec(context.Background(), "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(URL())
	if err != nil {
		t.Fatalf("GATEHOUSE_TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// redact hides a password in url.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
