package jwks

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/sealing"
)

// step is the time between two rounds of the lifecycle simulation.
const step = 3 * time.Hour

// issued is a token the simulation signed.
type issued struct {
	token, kid string
	signedAt   time.Time
	exp        time.Time
}

// lifecycle drives the Rotator's decisions (plan, build) against a fake
// clock, one round every step for 100 days, folding the events into key
// documents, refreshing a keyring, signing a token each round and
// checking every promise of DESIGN.md "Keys" after each round.
type lifecycle struct {
	t           *testing.T
	cfg         Config
	master      *sealing.Sealer
	docs        *keyStore
	ring        *Keyring
	tokens      []issued             // tokens not expired yet
	witness     map[string]issued    // kid → an expired token of it, until the key is removed
	published   map[string]time.Time // kid → first time the JWKS held it
	removeAfter map[string]time.Time // kid → remove_after, once retired
	actives     []string             // kids in the order they became active
}

func TestLifecycle(t *testing.T) {
	for _, alg := range allAlgs {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			l := &lifecycle{t: t, cfg: Config{Alg: alg}.withDefaults(), master: masterKey(t), docs: newKeyStore(t),
				published: map[string]time.Time{}, witness: map[string]issued{}, removeAfter: map[string]time.Time{}}
			l.ring = newRing(t, l.master, l.docs.source())
			for now := t0; now.Before(at(100 * day)); now = now.Add(step) {
				l.round(now)
			}
			// Rotations at days 30, 60 and 90.
			if len(l.actives) != 4 {
				t.Fatalf("%d keys signed in 100 days, want 4: %v", len(l.actives), l.actives)
			}
			// The key retired on day 90 is removed on day 91.
			if len(l.removeAfter) != 3 || len(l.docs.keys()) != 2 {
				t.Fatalf("%d keys retired, %d left; want 3 retired, 2 left (active, next)", len(l.removeAfter), len(l.docs.keys()))
			}
			if _, ok := l.witness[l.actives[3]]; len(l.witness) != 1 || !ok {
				t.Fatalf("expired tokens of %v not seen failing, want only the active key's", slices.Collect(maps.Keys(l.witness)))
			}
		})
	}
}

func (l *lifecycle) round(now time.Time) {
	l.t.Helper()
	for _, a := range plan(now, l.docs.keys(), l.cfg) {
		app, _, err := build(now, a, l.cfg, l.master)
		if err != nil {
			l.t.Fatalf("%s: build %s: %v", now, a, err)
		}
		for _, e := range app.Events {
			assertNoPrivateKey(l.t, l.master, e)
		}
		l.docs.apply(app.Events...)
	}
	if err := l.ring.Refresh(l.t.Context()); err != nil {
		l.t.Fatalf("%s: Refresh: %v", now, err)
	}
	keys := l.docs.keys()
	l.checkKeys(now, keys)
	l.checkJWKS(now, keys)
	l.sign(now)
	l.checkTokens(now)
}

// checkKeys: exactly one active key, published for the window before it
// signed (but the very first); retired keys stay until remove_after and
// leave then.
func (l *lifecycle) checkKeys(now time.Time, keys []projections.Key) {
	l.t.Helper()
	var active []projections.Key
	for _, k := range keys {
		switch k.State {
		case projections.KeyActive:
			active = append(active, k)
		case projections.KeyRetired:
			if want := k.RetiredAt.Add(l.cfg.MaxTokenTTL + l.cfg.JWKSCacheMaxAge); !k.RemoveAfter.Equal(want) {
				l.t.Fatalf("%s: %s remove_after %s, want %s", now, k.KID, k.RemoveAfter, want)
			}
			if !now.Before(k.RemoveAfter) {
				l.t.Fatalf("%s: %s still published after its remove_after %s", now, k.KID, k.RemoveAfter)
			}
			l.removeAfter[k.KID] = k.RemoveAfter
		}
	}
	if len(active) != 1 {
		l.t.Fatalf("%s: %d active keys", now, len(active))
	}
	a := active[0]
	if len(l.actives) == 0 || l.actives[len(l.actives)-1] != a.KID {
		l.actives = append(l.actives, a.KID)
		if len(l.actives) > 1 && a.ActivatedAt.Before(l.published[a.KID].Add(l.cfg.publishWindow())) {
			l.t.Fatalf("%s: %s signs %s after it was published", now, a.KID, a.ActivatedAt.Sub(l.published[a.KID]))
		}
	}
}

// checkJWKS: the JWKS is exactly the keys that are not removed; a key
// leaves it no sooner than its remove_after.
func (l *lifecycle) checkJWKS(now time.Time, keys []projections.Key) {
	l.t.Helper()
	body, _ := l.ring.PublicJWKS()
	var set struct{ Keys []struct{ KID string } }
	if err := json.Unmarshal(body, &set); err != nil {
		l.t.Fatal(err)
	}
	inJWKS := map[string]bool{}
	for _, k := range set.Keys {
		inJWKS[k.KID] = true
		if _, ok := l.published[k.KID]; !ok {
			l.published[k.KID] = now
		}
	}
	var want []string
	for _, k := range keys {
		want = append(want, k.KID)
	}
	if got := slices.Sorted(maps.Keys(inJWKS)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		l.t.Fatalf("%s: JWKS has %v, want %v", now, got, want)
	}
	for kid, ra := range l.removeAfter {
		if !inJWKS[kid] && now.Before(ra) {
			l.t.Fatalf("%s: %s left the JWKS before its remove_after %s", now, kid, ra)
		}
	}
}

func (l *lifecycle) sign(now time.Time) {
	l.t.Helper()
	exp := now.Add(l.cfg.MaxTokenTTL)
	token, err := l.ring.Sign(map[string]any{"exp": exp.Unix()}, "at+jwt")
	if err != nil {
		l.t.Fatalf("%s: Sign: %v", now, err)
	}
	a, _ := l.ring.Active()
	l.tokens = append(l.tokens, issued{token: token, kid: a.KID(), signedAt: now, exp: exp})
}

// checkTokens: every token verifies until it expires; once its key is
// removed a token no longer does. A token's key was published at least the
// JWKS cache lifetime before it (but the first key's). Expired tokens are
// dropped but the last of each key, kept to see its key's removal.
func (l *lifecycle) checkTokens(now time.Time) {
	l.t.Helper()
	live := l.tokens[:0]
	for _, tok := range l.tokens {
		if _, kid, err := l.ring.Verify(tok.token); err != nil || kid != tok.kid {
			l.t.Fatalf("%s: token of %s signed %s, expiring %s: Verify = %q, %v", now, tok.kid, tok.signedAt, tok.exp, kid, err)
		}
		if tok.kid != l.actives[0] && tok.signedAt.Before(l.published[tok.kid].Add(l.cfg.JWKSCacheMaxAge)) {
			l.t.Fatalf("%s: %s signed at %s, published only at %s", now, tok.kid, tok.signedAt, l.published[tok.kid])
		}
		if now.Before(tok.exp.Add(-step)) {
			live = append(live, tok)
		} else {
			l.witness[tok.kid] = tok
		}
	}
	l.tokens = live
	for kid, tok := range l.witness {
		_, _, err := l.ring.Verify(tok.token)
		_, published := l.ring.snap.Load().keys[kid]
		switch {
		case published && err != nil:
			l.t.Fatalf("%s: expired token of published key %s: %v", now, kid, err)
		case !published && !errors.Is(err, ErrUnknownKey):
			l.t.Fatalf("%s: token of removed key %s: %v, want ErrUnknownKey", now, kid, err)
		case !published:
			delete(l.witness, kid)
		}
	}
}
