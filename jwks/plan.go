package jwks

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/projections"
)

// Config shapes the key lifecycle. The zero value of each field takes its
// default.
type Config struct {
	// Alg is the primary algorithm: ES256 (default), RS256 or EdDSA. Its
	// family's active key signs access tokens (Keyring.Active).
	Alg string
	// IDTokenAlgs are the algorithms ID tokens may be signed with (each
	// ES256, RS256 or EdDSA). The Rotator keeps one family of keys per
	// algorithm of Alg and IDTokenAlgs, each with its own lifecycle; a
	// signer for one of them is Keyring.ActiveFor. Empty: Alg's family
	// only.
	IDTokenAlgs []string
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
	if slices.Contains(c.families(), RS256) && c.RSABits == 0 {
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

// families lists the algorithms of the key families: Alg first, then
// IDTokenAlgs in their order, each once.
func (c Config) families() []string {
	alg := c.Alg
	if alg == "" {
		alg = ES256
	}
	out := []string{alg}
	for _, a := range c.IDTokenAlgs {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	c = c.withDefaults()
	for _, alg := range c.families() {
		if alg != ES256 && alg != RS256 && alg != EdDSA {
			return fmt.Errorf("jwks: algorithm %q: use ES256, RS256 or EdDSA", alg)
		}
	}
	if c.RSABits != 0 && c.RSABits != RSA2048 && c.RSABits != RSA3072 {
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
	// opGenesis: no key signs and none is waiting (a fresh log). Create,
	// in one append, for every family a key that is active at once, and
	// the primary family's next key (the other families' next keys come
	// with the next round's create-next). The first keys cannot have been
	// published beforehand; no token exists yet either.
	opGenesis op = "genesis"
	// opRotate: the active key is due and the next key has been published
	// long enough. Activate the next key, retire the active one, create a
	// new next key. One atomic append.
	opRotate op = "rotate"
	// opActivate: the family has no active key but a next key. Activate
	// it once it has been published for the publish window (a family new
	// to a log, meanwhile ActiveFor falls back to the primary's key), or
	// at once when no key of any family signs (a log repaired by hand:
	// signing nothing is worse).
	opActivate op = "activate"
	// opCreateNext: the family has no next key. Create one; a family new
	// to a log that signs gets its first key so, activating after its
	// publish window.
	opCreateNext op = "create-next"
	// opReplaceNext: the next key has the wrong algorithm (Alg changed) or
	// RotateNow cannot use it yet. Remove it (it never signed) and create
	// a new next key, atomically.
	opReplaceNext op = "replace-next"
	// opRemove: a retired key is past remove_after. Remove it.
	opRemove op = "remove"
	// opDropNext: a next key of an algorithm no longer configured, which
	// its family's successor did not adopt. Remove it (it never signed).
	opDropNext op = "drop-next"
	// opRetire: an active key of an algorithm no longer configured, once
	// the primary family has an active key of its own. Retire it: it
	// stays published for its retention.
	opRetire op = "retire"
)

// action is one decision of plan: one atomic append.
type action struct {
	op op
	// alg is the algorithm of the keys the action creates: the family's.
	// algs lists the families a genesis creates, alg's first.
	alg  string
	algs []string
	// family names a family other than the primary in String and dedupe
	// (its algorithm); empty for the primary's actions and genesis.
	family string
	// key is the key acted on: activated (rotate, activate), replaced,
	// retired (retire) or removed; zero for genesis and create-next.
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
	if a.family != "" {
		s += "/" + a.family
	}
	if len(a.algs) > 1 {
		s += " " + strings.Join(a.algs, ",")
	}
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

func describeActions(as []action) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
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
// removals of retired keys past remove_after, then for each family at
// most one action on its signing keys, then the fate of the keys of
// algorithms no longer configured. It is pure: no clock, no randomness,
// no I/O.
func plan(now time.Time, keys []projections.Key, cfg Config) []action {
	cfg = cfg.withDefaults()
	all := classify(keys)
	var out []action
	for _, k := range all.retired {
		if !now.Before(k.RemoveAfter) {
			out = append(out, all.act(action{op: opRemove, key: k}))
		}
	}
	if g, ok := planGenesis(now, all, cfg); ok {
		return append(out, g)
	}
	fams, strays := sortFamilies(keys, cfg)
	for _, f := range fams {
		if a, ok := planSigning(now, f, cfg, all.active != nil); ok {
			out = append(out, f.act(a))
		}
	}
	for _, k := range strays {
		switch {
		case k.State == projections.KeyNext:
			out = append(out, all.act(action{op: opDropNext, key: k}))
		case k.State == projections.KeyActive && fams[0].own:
			out = append(out, all.act(action{op: opRetire, key: k}))
		}
	}
	return out
}

// planGenesis decides the genesis of a log where no key signs and none is
// waiting: every family at once, in one append.
func planGenesis(now time.Time, all keyset, cfg Config) (action, bool) {
	if all.active != nil || all.next != nil {
		return action{}, false
	}
	fams := cfg.families()
	return all.act(action{op: opGenesis, alg: fams[0], algs: fams, nextAt: now.Add(cfg.RotationPeriod)}), true
}

// family is the keys of one configured algorithm. The primary family (the
// first) also adopts the keys of algorithms no longer configured (strays)
// as today's single family did when Alg changed: while it has no active
// key of its own, the stray activated last is its active key, retired by
// the rotation to its first key of its own; while it has no next key of
// its own, a stray next key is its next key, replaced by one of its
// algorithm.
type family struct {
	alg     string
	primary bool
	ks      keyset
	// own: the active key is of the family's algorithm.
	own bool
}

// act names a family's append after the decision and the family's keys,
// as keyset.act does for the primary: instances deciding on the same
// family decide alike whatever the other families did meanwhile.
func (f family) act(a action) action {
	a.alg = f.alg
	if !f.primary {
		a.family = f.alg
	}
	a = f.ks.act(a)
	if !f.primary {
		a.dedupe = "keys:" + string(a.op) + "/" + f.alg + ":" + a.key.KID + ":" + f.ks.state
	}
	return a
}

// sortFamilies sorts keys into the configured families, in
// Config.families order, and returns the strays the primary family did
// not adopt (next and active keys only).
func sortFamilies(keys []projections.Key, cfg Config) ([]family, []projections.Key) {
	algs := cfg.families()
	byAlg := map[string][]projections.Key{}
	var strays []projections.Key
	for _, k := range keys {
		if slices.Contains(algs, k.Alg) {
			byAlg[k.Alg] = append(byAlg[k.Alg], k)
		} else {
			strays = append(strays, k)
		}
	}
	fams := make([]family, len(algs))
	for i, alg := range algs {
		fams[i] = family{alg: alg, primary: i == 0, ks: classify(byAlg[alg])}
		fams[i].own = fams[i].ks.active != nil
	}
	p := &fams[0]
	sk := classify(strays)
	if p.ks.active == nil && sk.active != nil {
		p.ks.active = sk.active
	}
	if p.ks.next == nil && sk.next != nil {
		p.ks.next = sk.next
	}
	if len(strays) > 0 {
		p.ks.state = stateHash(append(slices.Clone(byAlg[p.alg]), strays...))
	}
	var left []projections.Key
	for _, k := range strays {
		if k.KID != kidOf(p.ks.active) && k.KID != kidOf(p.ks.next) {
			left = append(left, k)
		}
	}
	return fams, left
}

func kidOf(k *projections.Key) string {
	if k == nil {
		return ""
	}
	return k.KID
}

// act names a's append after the decision and the key set it was made on.
func (ks keyset) act(a action) action {
	a.dedupe = "keys:" + string(a.op) + ":" + a.key.KID + ":" + ks.state
	return a
}

// planSigning decides on the active and next keys of family f; signs
// reports whether a key of any family is active.
func planSigning(now time.Time, f family, cfg Config, signs bool) (action, bool) {
	ks := f.ks
	switch {
	case ks.active == nil && ks.next == nil:
		// A family new to a log that signs: its first key is published a
		// whole window before it signs.
		return action{op: opCreateNext, nextAt: now.Add(cfg.publishWindow())}, true
	case ks.active == nil:
		if signs && !ready(now, *ks.next, f.alg, cfg) {
			return action{}, false
		}
		return action{op: opActivate, key: *ks.next}, true
	case ks.next == nil:
		at := latest(ks.active.ActivatedAt.Add(cfg.RotationPeriod), now.Add(cfg.publishWindow()))
		return action{op: opCreateNext, nextAt: at}, true
	case due(now, ks, cfg) && ready(now, *ks.next, f.alg, cfg):
		return action{op: opRotate, key: *ks.next, retire: *ks.active, nextAt: now.Add(cfg.RotationPeriod)}, true
	case ks.next.Alg != f.alg:
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
// has the family's algorithm alg.
func ready(now time.Time, next projections.Key, alg string, cfg Config) bool {
	return next.Alg == alg && !now.Before(next.PublishAt.Add(cfg.publishWindow()))
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// planRotateNow decides a rotation on demand (POST
// /v1/platform/keys/rotate) of every family, in one append. When a
// family's next key has been published long enough it is activated now.
// Otherwise no key may sign yet without breaking clients that cached the
// JWKS, so a new next key is created (replacing a next key that is too
// young or of another algorithm) with activate_at at the end of its
// publish window; the Rotator activates it then. A family without an
// active key is decided as plan does; a log without keys gets its genesis.
func planRotateNow(now time.Time, keys []projections.Key, cfg Config) []action {
	cfg = cfg.withDefaults()
	all := classify(keys)
	if g, ok := planGenesis(now, all, cfg); ok {
		return []action{g}
	}
	at := now.Add(cfg.publishWindow())
	fams, _ := sortFamilies(keys, cfg)
	var out []action
	for _, f := range fams {
		ks := f.ks
		var a action
		switch {
		case ks.active == nil:
			var ok bool
			if a, ok = planSigning(now, f, cfg, all.active != nil); !ok {
				continue
			}
		case ks.next == nil:
			a = action{op: opCreateNext, nextAt: at}
		case ready(now, *ks.next, f.alg, cfg):
			a = action{op: opRotate, key: *ks.next, retire: *ks.active, nextAt: now.Add(cfg.RotationPeriod)}
		default:
			a = action{op: opReplaceNext, key: *ks.next, nextAt: at}
		}
		out = append(out, f.act(a))
	}
	return out
}
