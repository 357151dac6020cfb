package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/sealing"
)

// pendingSecretFile, in the data directory, holds a generated bootstrap
// admin secret, sealed (sealing.BootstrapSecret), from before the bootstrap's
// append until the secret has been printed. A first start interrupted
// between the two leaves it, and the next start prints the secret then
// (issue 12 point 9): the secret cannot be lost to an interrupt.
const PendingSecretFile = "bootstrap-secret.pending"

// pendingSecretAAD binds the sealed secret to its purpose.
const pendingSecretAAD = "gatehouse bootstrap admin secret v1"

// pendingSecret returns the secret a previous start left pending, or
// generates one and persists it (sealed, written whole then renamed, mode
// 0600) before it can reach the log. resumed says it was left pending.
func pendingSecret(dir string, sealer *sealing.Sealer) (secret string, resumed bool, err error) {
	path := filepath.Join(dir, PendingSecretFile)
	sealed, err := os.ReadFile(path)
	if err == nil {
		plain, err := sealer.Open(pendingSecretAAD, string(sealed))
		if err != nil {
			return "", false, fmt.Errorf("%s: %w (remove it to generate a new secret)", path, err)
		}
		return string(plain), true, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}
	secret = oauth.NewClientSecret()
	s, err := sealer.Seal(pendingSecretAAD, []byte(secret))
	if err != nil {
		return "", false, err
	}
	return secret, false, writeFileAtomic(path, []byte(s))
}

// writeFileAtomic writes b to path through a synced temporary file.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// stillLive reports whether secret is a live secret of the app clientID
// (a pending secret from an interrupted start that the log took, not one
// another instance's bootstrap or a later reset replaced).
func stillLive(ctx context.Context, store projections.Reader, hasher *oauth.SecretHasher, clientID, secret string) (bool, error) {
	app, err := projections.AppByClientID(ctx, store, clientID)
	if errors.Is(err, projections.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	want := hasher.HashString(secret)
	for _, s := range app.Secrets {
		if s.Hash == want && s.ExpiresAt == nil {
			return true, nil
		}
	}
	return false, nil
}
