package jwks

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/projections"
)

// Config shapes the key lifecycle. The zero value of each field takes its
// default.
type Config struct {
	// Alg is the algorithm of new keys: ES256 (default), RS256 or EdDSA.
	Alg string
	// RSABits is the size of new RS256 keys: 2048 (default) or 3072.
	RSABits int
	// RotationPeriod is how long a key signs before the next one takes
	// over. Default 30 days.
	RotationPeriod time.Duration
	// JWKSCacheMaxAge is the longest a client may cache the JWKS (the
	// max-age /.well-known/jwks.json serves). A key is published at least
	// this long, plus Interval, before it signs. Default 5 minutes.
	JWKSCacheMaxAge time.Duration
	// MaxTokenTTL is the longest lifetime of a token the keys sign. A
	// retired key stays published for MaxTokenTTL + JWKSCacheMaxAge.
	// Default 24 hours.
	MaxTokenTTL time.Duration
	// Interval is how often the Rotator looks at the keys, and so how long
	// an instance may take to see a new key. Default 15 seconds.
	Interval time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if c.Alg == "" {
		c.Alg = ES256
	}
	if c.Alg == RS256 && c.RSABits == 0 {
		c.RSABits = RSA2048
	}
	c.RotationPeriod = orDefault(c.RotationPeriod, 30*24*time.Hour)
	c.JWKSCacheMaxAge = orDefault(c.JWKSCacheMaxAge, 5*time.Minute)
	c.MaxTokenTTL = orDefault(c.MaxTokenTTL, 24*time.Hour)
	c.Interval = orDefault(c.Interval, 15*time.Second)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.Alg != ES256 && c.Alg != RS256 && c.Alg != EdDSA {
		return fmt.Errorf("jwks: algorithm %q: use ES256, RS256 or EdDSA", c.Alg)
	}
	if c.Alg == RS256 && c.RSABits != RSA2048 && c.RSABits != RSA3072 {
		return fmt.Errorf("jwks: RSA key size %d: use 2048 or 3072", c.RSABits)
	}
	for _, d := range []time.Duration{c.RotationPeriod, c.JWKSCacheMaxAge, c.MaxTokenTTL, c.Interval} {
		if d < 0 {
			return fmt.Errorf("jwks: negative duration %s", d)
		}
	}
	if c.RotationPeriod <= c.publishWindow() {
		return fmt.Errorf("jwks: rotation period %s must exceed the JWKS cache lifetime plus the interval (%s)", c.RotationPeriod, c.publishWindow())
	}
	return nil
}

// publishWindow is how long a key is published before it may sign: every
// client's cached JWKS, fetched from any instance, has it by then.
func (c Config) publishWindow() time.Duration { return c.JWKSCacheMaxAge + c.Interval }

// retention is how long a retired key stays published.
func (c Config) retention() time.Duration { return c.MaxTokenTTL + c.JWKSCacheMaxAge }

// op is what an action does.
type op string

const (
	// opGenesis: no key signs and none is waiting (a fresh log). Create a
	// key that is active at once and a next key. The first key cannot
	// have been published beforehand; no token exists yet either.
	opGenesis op = "genesis"
	// opRotate: the active key is due and the next key has been published
	// long enough. Activate the next key, retire the active one, create a
	// new next key. One atomic append.
	opRotate op = "rotate"
	// opActivate: no key is active but a next key exists (a log repaired
	// by hand). Activate it now: signing nothing is worse.
	opActivate op = "activate"
	// opCreateNext: a key is active and none is next. Create one.
	opCreateNext op = "create-next"
	// opReplaceNext: the next key has the wrong algorithm (Alg changed) or
	// RotateNow cannot use it yet. Remove it (it never signed) and create
	// a new next key, atomically.
	opReplaceNext op = "replace-next"
	// opRemove: a retired key is past remove_after. Remove it.
	opRemove op = "remove"
)

// action is one decision of plan: one atomic append.
type action struct {
	op op
	// key is the key acted on: activated (rotate, activate), replaced or
	// removed; zero for genesis and create-next.
	key projections.Key
	// retire is the active key a rotation retires; zero otherwise.
	retire projections.Key
	// nextAt is the activate_at of the next key the action creates; zero
	// when it creates none.
	nextAt time.Time
	// dedupe is the append's DedupeID: the same decision on the same key
	// set gets the same ID on every instance, so the log writes it once.
	dedupe string
}

// String describes a for tests and logs, e.g. "rotate key_b retire key_a
// next@2025-07-01T00:00:00Z".
func (a action) String() string {
	s := string(a.op)
	if a.key.KID != "" {
		s += " " + a.key.KID
	}
	if a.retire.KID != "" {
		s += " retire " + a.retire.KID
	}
	if !a.nextAt.IsZero() {
		s += " next@" + a.nextAt.UTC().Format(time.RFC3339)
	}
	return s
}

// keyset is the key documents sorted into their roles.
type keyset struct {
	active  *projections.Key // the key activated last
	next    *projections.Key // the next key published first
	retired []projections.Key
	state   string // hash of every kid and version: names the decision's input
}

func classify(keys []projections.Key) keyset {
	ks := keyset{state: stateHash(keys)}
	for i := range keys {
		k := &keys[i]
		switch k.State {
		case projections.KeyActive:
			if ks.active == nil || !k.ActivatedAt.Before(ks.active.ActivatedAt) {
				ks.active = k
			}
		case projections.KeyNext:
			if ks.next == nil || k.PublishAt.Before(ks.next.PublishAt) {
				ks.next = k
			}
		case projections.KeyRetired:
			ks.retired = append(ks.retired, *k)
		}
	}
	return ks
}

func stateHash(keys []projections.Key) string {
	sum := sha256.Sum256([]byte(fingerprint(keys)))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// plan decides what the lifecycle needs at now, from the current keys:
// removals of retired keys past remove_after, then at most one action on
// the signing keys. It is pure: no clock, no randomness, no I/O.
func plan(now time.Time, keys []projections.Key, cfg Config) []action {
	cfg = cfg.withDefaults()
	ks := classify(keys)
	var out []action
	for _, k := range ks.retired {
		if !now.Before(k.RemoveAfter) {
			out = append(out, ks.act(action{op: opRemove, key: k}))
		}
	}
	if a, ok := planSigning(now, ks, cfg); ok {
		out = append(out, ks.act(a))
	}
	return out
}

// act names a's append after the decision and the key set it was made on.
func (ks keyset) act(a action) action {
	a.dedupe = "keys:" + string(a.op) + ":" + a.key.KID + ":" + ks.state
	return a
}

// planSigning decides on the active and next keys.
func planSigning(now time.Time, ks keyset, cfg Config) (action, bool) {
	switch {
	case ks.active == nil && ks.next == nil:
		return action{op: opGenesis, nextAt: now.Add(cfg.RotationPeriod)}, true
	case ks.active == nil:
		return action{op: opActivate, key: *ks.next}, true
	case ks.next == nil:
		at := latest(ks.active.ActivatedAt.Add(cfg.RotationPeriod), now.Add(cfg.publishWindow()))
		return action{op: opCreateNext, nextAt: at}, true
	case due(now, ks, cfg) && ready(now, *ks.next, cfg):
		return action{op: opRotate, key: *ks.next, retire: *ks.active, nextAt: now.Add(cfg.RotationPeriod)}, true
	case ks.next.Alg != cfg.Alg:
		at := latest(ks.next.ActivateAt, now.Add(cfg.publishWindow()))
		return action{op: opReplaceNext, key: *ks.next, nextAt: at}, true
	}
	return action{}, false
}

// due reports whether the active key should hand over: its rotation
// period is over, or the next key's activate_at has come.
func due(now time.Time, ks keyset, cfg Config) bool {
	return !now.Before(ks.next.ActivateAt) || !now.Before(ks.active.ActivatedAt.Add(cfg.RotationPeriod))
}

// ready reports whether next has been published long enough to sign and
// has the configured algorithm.
func ready(now time.Time, next projections.Key, cfg Config) bool {
	return next.Alg == cfg.Alg && !now.Before(next.PublishAt.Add(cfg.publishWindow()))
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// planRotateNow decides a rotation on demand (POST /v1/platform/keys/rotate).
// When the next key has been published long enough it is activated now.
// Otherwise no key may sign yet without breaking clients that cached the
// JWKS, so a new next key is created (replacing a next key that is too
// young or of another algorithm) with activate_at at the end of its
// publish window; the Rotator activates it then. With no active key it
// decides as plan does.
func planRotateNow(now time.Time, keys []projections.Key, cfg Config) []action {
	cfg = cfg.withDefaults()
	ks := classify(keys)
	at := now.Add(cfg.publishWindow())
	var a action
	switch {
	case ks.active == nil:
		a, _ = planSigning(now, ks, cfg)
	case ks.next == nil:
		a = action{op: opCreateNext, nextAt: at}
	case ready(now, *ks.next, cfg):
		a = action{op: opRotate, key: *ks.next, retire: *ks.active, nextAt: now.Add(cfg.RotationPeriod)}
	default:
		a = action{op: opReplaceNext, key: *ks.next, nextAt: at}
	}
	return []action{ks.act(a)}
}
