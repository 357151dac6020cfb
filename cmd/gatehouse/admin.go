package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/gatehouse/gatehouse/server"
)

// runAdmin is `gatehouse admin reset-secret [--client-id ID]`.
func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if done, err := subcommand(args, "admin", "reset-secret", stdout); done {
		return err
	}
	clientID := os.Getenv(server.EnvPrefix + "BOOTSTRAP_CLIENT_ID")
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
			return usageError{Err: errors.New("--client-id needs a value")}
		}
	}
	cfg, err := server.LoadConfig(rest, os.LookupEnv)
	if err != nil {
		return err
	}
	return resetSecret(ctx, cfg, clientID, stdout, stderr)
}

// resetSecret rotates the secret of clientID (server.ResetSecret) and
// prints the new one.
func resetSecret(ctx context.Context, cfg server.Config, clientID string, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	secret, err := server.ResetSecret(ctx, cfg, clientID, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "New secret of %s (its other secrets stopped working):\n  client_id:     %s\n  client_secret: %s   (shown once: keep it now)\n",
		clientID, clientID, secret)
	return nil
}
