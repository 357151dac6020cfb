package server

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func keyConfig(dir, key string) Config {
	c := defaultConfig()
	c.DataDir, c.MasterKey = dir, key
	return c
}

func TestMasterKeyGeneratedOnceAndReused(t *testing.T) {
	dir := t.TempDir()
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	first, err := loadMasterKey(keyConfig(dir, ""), log)
	if err != nil || len(first) != masterKeyLen {
		t.Fatalf("first = %d bytes, %v", len(first), err)
	}
	fi, err := os.Stat(filepath.Join(dir, MasterKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("no warning about the generated key: %s", logs.String())
	}
	second, err := loadMasterKey(keyConfig(dir, ""), log)
	if err != nil || !bytes.Equal(first, second) {
		t.Fatalf("second start: %v; same key %v", err, bytes.Equal(first, second))
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(matches) != 0 {
		t.Fatalf("temporary files left: %v", matches)
	}
}

func TestMasterKeyFromConfigWritesNothing(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte{7}, masterKeyLen)
	got, err := loadMasterKey(keyConfig(dir, base64.StdEncoding.EncodeToString(want)), slog.New(slog.DiscardHandler))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("key = %x, %v", got, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("wrote %v although the key was configured", entries)
	}
}

func TestMasterKeyCorruptFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, MasterKeyFile)
	if err := os.WriteFile(path, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := loadMasterKey(keyConfig(dir, ""), slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not base64 of 32 bytes") {
		t.Fatalf("err = %v, want one naming %s", err, path)
	}
	if b, _ := os.ReadFile(path); string(b) != "not a key\n" {
		t.Fatal("a corrupt key file was overwritten")
	}
}

func TestMasterKeyWarnsOnOpenPermissions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, MasterKeyFile)
	if err := os.WriteFile(path, []byte(validKey), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	if _, err := loadMasterKey(keyConfig(dir, ""), slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "chmod 600") {
		t.Fatalf("no warning about mode 0644: %s", logs.String())
	}
}

func TestMasterKeyConcurrentStarts(t *testing.T) {
	dir := t.TempDir()
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := loadMasterKey(keyConfig(dir, ""), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if !bytes.Equal(k, keys[0]) {
			t.Fatal("racing starts got different master keys")
		}
	}
}
