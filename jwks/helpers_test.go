package jwks

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/sealing"
)

// t0 is the fake clock's start.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// masterKey returns the signing keys' sealer of a new random master key.
func masterKey(t testing.TB) *sealing.Sealer {
	t.Helper()
	k := make([]byte, sealing.MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	keys, err := sealing.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return keys.Purpose(sealing.SigningKey)
}

// clock is a fake clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// keyStore is a memory projection store of key documents that tests fill
// by applying events through projections.Apply, numbered as the control
// stream would.
type keyStore struct {
	t   testing.TB
	s   *memory.Store
	mu  sync.Mutex
	seq uint64
}

func newKeyStore(t testing.TB) *keyStore { return &keyStore{t: t, s: memory.New()} }

// apply applies es, one Update each.
func (k *keyStore) apply(es ...events.Event) {
	k.t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, e := range es {
		k.seq++
		e.Stream, e.Seq = events.Control, k.seq
		err := k.s.Update(context.Background(), events.Control, e.Seq, func(tx projections.Tx) error { return projections.Apply(tx, e) })
		if err != nil {
			k.t.Fatalf("apply %s: %v", e.Type, err)
		}
	}
}

// keys lists the key documents as the keyring and rotator see them.
func (k *keyStore) keys() []projections.Key {
	k.t.Helper()
	keys, err := projections.ListKeys(context.Background(), k.s)
	if err != nil {
		k.t.Fatalf("ListKeys: %v", err)
	}
	return keys
}

func (k *keyStore) source() KeySource { return FromReader(k.s) }

// newRing returns a keyring over src, refreshed once.
func newRing(t testing.TB, master *sealing.Sealer, src KeySource) *Keyring {
	t.Helper()
	ring, err := NewKeyring(master, src)
	if err != nil {
		t.Fatal(err)
	}
	if err := ring.Refresh(t.Context()); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	return ring
}

// genesis returns the docs of a fresh key set of alg (an active key and a
// next key) made the way the Rotator makes it, at t0.
func genesis(t testing.TB, master *sealing.Sealer, alg string) *keyStore {
	t.Helper()
	d := newKeyStore(t)
	cfg := Config{Alg: alg}.withDefaults()
	a := plan(t0, nil, cfg)
	if len(a) != 1 || a[0].op != opGenesis {
		t.Fatalf("plan on no keys = %v, want genesis", a)
	}
	app, _, err := build(t0, a[0], cfg, master)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	d.apply(app.Events...)
	return d
}

func jwkOf(key any) jose.JSONWebKey { return jose.JSONWebKey{Key: key} }

// pkcs8Encodings returns the PKCS#8 DER of priv in standard and URL-safe
// base64.
func pkcs8Encodings(t testing.TB, priv any) []string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return []string{base64.StdEncoding.EncodeToString(der), base64.RawURLEncoding.EncodeToString(der)}
}
