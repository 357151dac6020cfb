package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// ResetSecret gives the app clientID a new client secret at once and ends
// its others (`gatehouse admin reset-secret`): it opens the log and the
// projections as Build does, catches up, and rotates the secret through
// authz.Apps.ResetSecret. It returns the new secret.
func ResetSecret(ctx context.Context, cfg Config, clientID string, log *slog.Logger) (string, error) {
	keys, err := LoadKeys(cfg, log)
	if err != nil {
		return "", err
	}
	el, err := OpenEventLog(ctx, cfg, log)
	if err != nil {
		return "", err
	}
	defer el.Close()
	d := deps{Config: cfg, Logger: log, Log: el.JetStream, NATS: el.nc, Keys: keys, Now: time.Now}
	store, err := openStore(ctx, d)
	if err != nil {
		return "", err
	}
	defer store.Close()
	proj, err := projections.New(projections.Config{Log: d.Log, Store: store, Logger: log})
	if err != nil {
		return "", err
	}
	if err := proj.Start(ctx); err != nil {
		return "", err
	}
	defer proj.Close()
	hasher, err := oauth.NewSecretHasher(keys)
	if err != nil {
		return "", err
	}
	waits := proj.Bounded(time.Minute)
	apps := &authz.Apps{Deps: authz.Deps{Log: d.Log, Store: store, WaitFor: waits.WaitFor, CatchUp: waits.CatchUp, Now: d.Now}, Hasher: hasher}
	secret, err := apps.ResetSecret(ctx, clientID)
	if err != nil {
		return "", fmt.Errorf("reset the secret of %s: %w", clientID, err)
	}
	return secret, nil
}
