package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/gatehouse/gatehouse/sealing"
)

// MasterKeyFile is the name, in the data directory, of the master key
// generated when GATEHOUSE_MASTER_KEY is not set.
const MasterKeyFile = "master.key"

// loadMasterKey returns the master key: GATEHOUSE_MASTER_KEY when set, else
// the one in DataDir/master.key, which the first start generates (mode
// 0600) with a warning. Losing that file loses every secret encrypted
// with it.
func loadMasterKey(cfg Config, log *slog.Logger) ([]byte, error) {
	if cfg.MasterKey != "" {
		return decodeMasterKey(cfg.MasterKey)
	}
	path := filepath.Join(cfg.DataDir, MasterKeyFile)
	key, err := readMasterKey(path, log)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := writeMasterKey(path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	log.Warn("GATEHOUSE_MASTER_KEY is not set: using a master key generated into the data directory; back it up, or set GATEHOUSE_MASTER_KEY",
		slog.String("path", path))
	return readMasterKey(path, log)
}

// loadKeys returns the keys of the master key loadMasterKey returns.
func LoadKeys(cfg Config, log *slog.Logger) (*sealing.Keys, error) {
	key, err := loadMasterKey(cfg, log)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return sealing.New(key)
}

// readMasterKey reads a key file, warning when others may read it.
func readMasterKey(path string, log *slog.Logger) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := decodeMasterKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the master key file is readable by others; chmod 600 it", slog.String("path", path), slog.String("mode", fi.Mode().Perm().String()))
	}
	return key, nil
}

// writeMasterKey creates path with a new random key, atomically: the key is
// written and synced to a temporary file that is then linked to path, so
// a crash leaves no half-written key and a racing start keeps the first.
// It returns an fs.ErrExist error when path exists.
func writeMasterKey(path string) error {
	key := make([]byte, masterKeyLen)
	rand.Read(key)
	tmp, err := os.CreateTemp(filepath.Dir(path), MasterKeyFile+".*.tmp")
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := writeSynced(tmp, base64.StdEncoding.EncodeToString(key)+"\n"); err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	return os.Link(tmp.Name(), path)
}

// writeSynced writes s to f (created 0600 by os.CreateTemp), syncs and
// closes it.
func writeSynced(f *os.File, s string) error {
	_, werr := f.WriteString(s)
	serr := f.Sync()
	cerr := f.Close()
	return errors.Join(werr, serr, cerr)
}
