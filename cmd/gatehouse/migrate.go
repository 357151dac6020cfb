package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/projections/postgres"
	"github.com/gatehouse/gatehouse/server"
)

// migrateTimeout bounds the connection and the migrations, so that an
// unreachable database fails the command instead of hanging it.
const migrateTimeout = 2 * time.Minute

// runMigrate is `gatehouse migrate`: it applies the PostgreSQL schema of
// the projections (package migrations) that the database lacks.
func runMigrate(ctx context.Context, args []string, stdout, _ io.Writer) error {
	return migrate(ctx, args, os.LookupEnv, stdout)
}

// migrate is runMigrate with the environment given, for tests.
func migrate(ctx context.Context, args []string, env func(string) (string, bool), stdout io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	url := fs.String("database-url", "", "")
	schema := fs.String("schema", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout, "migrate")
			return nil
		}
		return usageError{Err: err}
	}
	if fs.NArg() > 0 {
		return usageError{Err: fmt.Errorf("migrate takes no arguments, got %q", fs.Arg(0))}
	}
	if *url == "" {
		*url, _ = env(server.EnvPrefix + "DATABASE_URL")
	}
	if !isSet(fs, "schema") {
		if *schema = server.DefaultSchema; env != nil {
			if v, ok := env(server.EnvPrefix + "DATABASE_SCHEMA"); ok && v != "" {
				*schema = v
			}
		}
	}
	if err := checkMigrateTarget(*url, *schema); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, migrateTimeout)
	defer cancel()
	pool, err := pgxpool.New(ctx, *url)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer pool.Close()
	applied, err := postgres.Migrate(ctx, pool, *schema)
	if err != nil {
		return err
	}
	for _, name := range applied {
		fmt.Fprintf(stdout, "applied %s\n", name)
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "schema %s is up to date: nothing to apply\n", pgx.Identifier{*schema}.Sanitize())
	} else {
		fmt.Fprintf(stdout, "schema %s is up to date: %d migration(s) applied\n", pgx.Identifier{*schema}.Sanitize(), len(applied))
	}
	return nil
}

// checkMigrateTarget names the variable of a missing or malformed
// database URL, as a server.ConfigError.
func checkMigrateTarget(url, schema string) error {
	var errs server.ConfigError
	switch msg := server.CheckDatabaseURL(url); {
	case url == "":
		errs = append(errs, errors.New(server.EnvPrefix+"DATABASE_URL (or --database-url) is not set: migrate needs the PostgreSQL URL of the projections"))
	case msg != "":
		errs = append(errs, fmt.Errorf("%sDATABASE_URL: %s", server.EnvPrefix, msg))
	}
	if schema == "" {
		errs = append(errs, errors.New("--schema: must not be empty"))
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// isSet reports whether the command line set flag name.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
