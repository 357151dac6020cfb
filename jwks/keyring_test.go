package jwks

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"testing"

	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/sealing"
)

func TestRefreshUnchangedKeepsSnapshot(t *testing.T) {
	ring, _ := ringOf(t, ES256)
	before := ring.snap.Load()
	body, etag := ring.PublicJWKS()
	if err := ring.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ring.snap.Load() != before {
		t.Fatal("Refresh with no key changed built a new snapshot")
	}
	body2, etag2 := ring.PublicJWKS()
	if &body[0] != &body2[0] || etag != etag2 {
		t.Fatal("PublicJWKS re-encoded an unchanged key set")
	}
}

// TestRefreshDecryptsEachKeyOnce: after a rotation the keys the keyring
// already held keep their decrypted material; only the new key is opened.
func TestRefreshDecryptsEachKeyOnce(t *testing.T) {
	master := masterKey(t)
	d := genesis(t, master, ES256)
	ring := newRing(t, master, d.source())
	old := ring.snap.Load()
	_, etag := ring.PublicJWKS()
	cfg := Config{}.withDefaults()
	now := t0.Add(cfg.RotationPeriod)
	acts := plan(now, d.keys(), cfg)
	if len(acts) != 1 || acts[0].op != opRotate {
		t.Fatalf("plan = %v, want a rotation", acts)
	}
	app, rot, err := build(now, acts[0], cfg, master)
	if err != nil {
		t.Fatal(err)
	}
	d.apply(app.Events...)
	if err := ring.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	cur := ring.snap.Load()
	for kid, m := range old.keys {
		if cur.keys[kid] != m {
			t.Errorf("key %s was decrypted again", kid)
		}
	}
	if len(cur.keys) != 3 || cur.keys[rot.Next] == nil {
		t.Fatalf("keyring holds %d keys, want 3 with the new next %s", len(cur.keys), rot.Next)
	}
	if a, _ := ring.Active(); a.KID() != rot.Activated {
		t.Fatalf("active = %s, want %s", a.KID(), rot.Activated)
	}
	if _, etag2 := ring.PublicJWKS(); etag2 == etag {
		t.Fatal("the ETag did not change with the key set")
	}
}

func TestRefreshFailureKeepsServing(t *testing.T) {
	master := masterKey(t)
	d := genesis(t, master, ES256)
	fail := errors.New("store down")
	var broken func([]projections.Key) ([]projections.Key, error)
	src := KeySourceFunc(func(ctx context.Context) ([]projections.Key, error) {
		keys := d.keys()
		if broken != nil {
			return broken(keys)
		}
		return keys, nil
	})
	ring := newRing(t, master, src)
	before, _ := ring.PublicJWKS()
	other := genesis(t, masterKey(t), ES256)
	for name, b := range map[string]func([]projections.Key) ([]projections.Key, error){
		"source error": func([]projections.Key) ([]projections.Key, error) { return nil, fail },
		"key sealed under another master key": func(keys []projections.Key) ([]projections.Key, error) {
			return append(keys, other.keys()[0]), nil
		},
		"public_jwk of another key": func(keys []projections.Key) ([]projections.Key, error) {
			forged := keys[1]
			forged.KID, forged.PublicJWK = "key_forged", keys[0].PublicJWK
			forged.PrivateKeyEnc, _ = Seal(master, forged.KID, privateKey(t, master, keys[1]))
			return append(keys, forged), nil
		},
		"wrong alg for the key": func(keys []projections.Key) ([]projections.Key, error) {
			wrong := keys[1]
			wrong.KID, wrong.Alg = "key_alg", RS256
			wrong.PrivateKeyEnc, _ = Seal(master, wrong.KID, privateKey(t, master, keys[1]))
			return append(keys, wrong), nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			broken = b
			err := ring.Refresh(t.Context())
			if err == nil {
				t.Fatal("Refresh succeeded")
			}
			t.Logf("Refresh: %v", err)
			if body, _ := ring.PublicJWKS(); string(body) != string(before) {
				t.Fatal("a failed Refresh changed the JWKS")
			}
			if _, err := ring.Sign(claims, "at+jwt"); err != nil {
				t.Fatalf("a failed Refresh broke signing: %v", err)
			}
		})
	}
}

func TestPublicJWKMatchesEvent(t *testing.T) {
	_, d := ringOf(t, RS256)
	for _, k := range d.keys() {
		var jwk map[string]any
		if err := json.Unmarshal(k.PublicJWK, &jwk); err != nil {
			t.Fatal(err)
		}
		if jwk["kid"] != k.KID || jwk["alg"] != RS256 || jwk["kty"] != "RSA" || jwk["d"] != nil {
			t.Fatalf("public_jwk = %v", jwk)
		}
	}
}

func privateKey(t testing.TB, master *sealing.Sealer, k projections.Key) crypto.Signer {
	t.Helper()
	priv, err := Open(master, k.KID, k.PrivateKeyEnc)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}
