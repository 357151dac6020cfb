package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// runAdmin is `gatehouse admin reset-secret [--client-id ID]`.
func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || isHelp(args[0]) {
		printAdminHelp(stdout)
		return nil
	}
	if args[0] != "reset-secret" {
		return usageError{fmt.Errorf("unknown admin command %q (see gatehouse admin -h)", args[0])}
	}
	clientID := os.Getenv(envPrefix + "BOOTSTRAP_CLIENT_ID")
	if clientID == "" {
		clientID = "admin"
	}
	rest := args[1:]
	for len(rest) > 0 && strings.HasPrefix(rest[0], "--client-id") {
		if v, ok := strings.CutPrefix(rest[0], "--client-id="); ok {
			clientID, rest = v, rest[1:]
		} else if len(rest) > 1 {
			clientID, rest = rest[1], rest[2:]
		} else {
			return usageError{errors.New("--client-id needs a value")}
		}
	}
	cfg, err := loadConfig(rest, os.LookupEnv)
	if err != nil {
		return err
	}
	return resetSecret(ctx, cfg, clientID, stdout, stderr)
}

func printAdminHelp(w io.Writer) {
	fmt.Fprint(w, "Usage: gatehouse admin reset-secret [--client-id ID] [serve flags]\n\n"+
		"Gives an app a new client secret at once and ends its others: the way back in when\n"+
		"the bootstrap admin's secret is lost. It needs the master key and the log (the serve\n"+
		"settings: GATEHOUSE_MASTER_KEY or DATA_DIR/master.key, GATEHOUSE_NATS_URL, ...); with\n"+
		"the embedded log stop the server first. The change is an app.secret.rotated event by\n"+
		"the system actor; the new secret is printed once.\n"+
		"--client-id defaults to GATEHOUSE_BOOTSTRAP_CLIENT_ID, else admin.\n")
}

// resetSecret opens the log and the projections as serve does, catches
// up, and rotates the secret of clientID through authz.Apps.ResetSecret.
func resetSecret(ctx context.Context, cfg Config, clientID string, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	keys, err := loadKeys(cfg, log)
	if err != nil {
		return err
	}
	el, err := openEventLog(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer el.Close()
	d := deps{Config: cfg, Logger: log, Log: el.JetStream, NATS: el.nc, Keys: keys, Stdout: stdout, Now: time.Now}
	store, err := openStore(ctx, d)
	if err != nil {
		return err
	}
	defer store.Close()
	proj, err := projections.New(projections.Config{Log: d.Log, Store: store, Logger: log})
	if err != nil {
		return err
	}
	if err := proj.Start(ctx); err != nil {
		return err
	}
	defer proj.Close()
	hasher, err := oauth.NewSecretHasher(keys)
	if err != nil {
		return err
	}
	waits := proj.Bounded(time.Minute)
	apps := &authz.Apps{Log: d.Log, Store: store, WaitFor: waits.WaitFor, CatchUp: waits.CatchUp, Hasher: hasher, Now: d.Now}
	secret, err := apps.ResetSecret(ctx, clientID)
	if err != nil {
		return fmt.Errorf("reset the secret of %s: %w", clientID, err)
	}
	fmt.Fprintf(stdout, "New secret of %s (its other secrets stopped working):\n  client_id:     %s\n  client_secret: %s   (shown once: keep it now)\n",
		clientID, clientID, secret)
	return nil
}
