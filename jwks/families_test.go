package jwks

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// Key documents of a second family, RS256, beside active and next.
var (
	rsActive = projections.Key{KeyCreated: events.KeyCreated{KID: "RA", Alg: RS256, PublishAt: at(0), ActivateAt: at(0)}, State: projections.KeyActive, ActivatedAt: at(0), Version: 2}
	rsNext   = projections.Key{KeyCreated: events.KeyCreated{KID: "RN", Alg: RS256, PublishAt: at(0), ActivateAt: at(30 * day)}, State: projections.KeyNext, Version: 1}
)

// rsYoung is an RS256 next key published at published, as the upgrade's
// create-next makes it.
func rsYoung(published time.Duration) projections.Key {
	return with(rsNext, func(k *projections.Key) { k.PublishAt, k.ActivateAt = at(published), at(published+window) })
}

func TestPlanFamilies(t *testing.T) {
	withRS := Config{IDTokenAlgs: []string{RS256, ES256}}
	for _, c := range []struct {
		name string
		cfg  Config
		now  time.Duration
		keys []projections.Key
		want []string
	}{
		{"fresh log: every family gets an active and a next key in one append", withRS, 0, nil,
			[]string{"genesis ES256,RS256 next@" + stamp(30*day)}},
		{"both families fresh: nothing", withRS, day, []projections.Key{active, next, rsActive, rsNext}, nil},
		{"upgrade (an ES256 log): the RS256 family's first key is a next key, signing after its window", withRS, day,
			[]projections.Key{active, next}, []string{"create-next/RS256 next@" + stamp(day+window)}},
		{"upgrade: the new family's key waits for its window", withRS, day + window - time.Second,
			[]projections.Key{active, next, rsYoung(day)}, nil},
		{"upgrade: after its window the new family's key signs", withRS, day + window,
			[]projections.Key{active, next, rsYoung(day)}, []string{"activate/RS256 RN"}},
		{"a family with an active key and no next gets one for the end of its period", withRS, day,
			[]projections.Key{active, next, with(rsActive, func(k *projections.Key) { k.ActivatedAt = at(day) })},
			[]string{"create-next/RS256 next@" + stamp(31*day)}},
		{"both periods over: each family rotates", withRS, 30 * day, []projections.Key{active, next, rsActive, rsNext},
			[]string{"rotate N retire A next@" + stamp(60*day), "rotate/RS256 RN retire RA next@" + stamp(60*day)}},
		{"a log repaired by hand (nothing signs): every next key signs at once", withRS, day,
			[]projections.Key{next, rsYoung(day)}, []string{"activate N", "activate/RS256 RN"}},
		{"RS256 dropped: its next key is removed, its active key retired", Config{}, day,
			[]projections.Key{active, next, rsActive, rsNext}, []string{"retire RA", "drop-next RN"}},
		{"primary changed to a family that signs: the old family's keys go", Config{Alg: RS256}, day,
			[]projections.Key{active, next, rsActive, rsNext}, []string{"retire A", "drop-next N"}},
		{"primary changed to a new algorithm: its next key replaces the old one's, same activation", Config{Alg: EdDSA, IDTokenAlgs: []string{RS256}}, day,
			[]projections.Key{active, next, rsActive, rsNext}, []string{"replace-next N next@" + stamp(30*day)}},
		{"primary changed: the old active key signs until the new family's first key does", Config{Alg: EdDSA, IDTokenAlgs: []string{RS256}}, 30 * day,
			[]projections.Key{active, with(next, func(k *projections.Key) { k.Alg = EdDSA; k.KID = "E" }), rsActive, rsNext},
			[]string{"rotate E retire A next@" + stamp(60*day), "rotate/RS256 RN retire RA next@" + stamp(60*day)}},
		{"an unwanted active key stays while the primary has no active key of its own", Config{Alg: EdDSA}, day,
			[]projections.Key{active, with(next, func(k *projections.Key) { k.Alg = EdDSA; k.KID = "E" }), rsActive, rsNext},
			[]string{"drop-next RN"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := describeActions(plan(at(c.now), c.keys, c.cfg))
			if !slices.Equal(got, append([]string{}, c.want...)) {
				t.Fatalf("plan = %q\nwant   %q", got, c.want)
			}
		})
	}
}

func TestPlanRotateNowFamilies(t *testing.T) {
	cfg := Config{IDTokenAlgs: []string{RS256}}
	for _, c := range []struct {
		name string
		keys []projections.Key
		want []string
	}{
		{"every family rotates", []projections.Key{active, next, rsActive, rsNext},
			[]string{"rotate N retire A next@" + stamp(31*day), "rotate/RS256 RN retire RA next@" + stamp(31*day)}},
		{"a family whose first key is in its window keeps it", []projections.Key{active, next, rsYoung(day - time.Minute)},
			[]string{"rotate N retire A next@" + stamp(31*day)}},
		{"upgrade: the new family's first key is scheduled", []projections.Key{active, next},
			[]string{"rotate N retire A next@" + stamp(31*day), "create-next/RS256 next@" + stamp(day+window)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := describeActions(planRotateNow(at(day), c.keys, cfg))
			if !slices.Equal(got, c.want) {
				t.Fatalf("planRotateNow = %q\nwant            %q", got, c.want)
			}
		})
	}
}

// TestPlanFamiliesDedupe: the families' decisions on one key set have
// their own DedupeIDs, and a family's decision keeps its ID whatever
// another family did meanwhile (so racing instances, one a step ahead,
// still write it once).
func TestPlanFamiliesDedupe(t *testing.T) {
	cfg := Config{IDTokenAlgs: []string{RS256}}
	// An upgrade where the ES256 next key is missing too: both families
	// create a next key.
	a := plan(at(day), []projections.Key{active}, cfg)
	if len(a) != 2 || a[0].dedupe == a[1].dedupe {
		t.Fatalf("plan = %v with DedupeIDs %q, %q: want two actions named apart", a, a[0].dedupe, a[1].dedupe)
	}
	b := plan(at(day), []projections.Key{active, next}, cfg)
	if len(b) != 1 || b[0].dedupe != a[1].dedupe {
		t.Fatalf("the RS256 family's decision after the ES256 one's append: %v, DedupeID %q, want %q", b, b[0].dedupe, a[1].dedupe)
	}
	if a[0].dedupe != plan(at(day), []projections.Key{active}, Config{})[0].dedupe {
		t.Fatal("the primary family's DedupeID changed with a second family")
	}
}

// TestBuildGenesisFamilies: the genesis of two families is one append of
// an active key each, of its algorithm, and the primary family's next
// key; the next round makes the other family's next key.
func TestBuildGenesisFamilies(t *testing.T) {
	master := masterKey(t)
	cfg := Config{IDTokenAlgs: []string{RS256}}.withDefaults()
	acts := plan(t0, nil, cfg)
	if len(acts) != 1 {
		t.Fatalf("plan = %v", acts)
	}
	app, rot, err := build(t0, acts[0], cfg, master)
	if err != nil {
		t.Fatal(err)
	}
	d := newKeyStore(t)
	d.apply(app.Events...)
	states := map[string][]projections.KeyState{}
	for _, k := range d.keys() {
		states[k.Alg] = append(states[k.Alg], k.State)
	}
	want := map[string][]projections.KeyState{ES256: {projections.KeyActive, projections.KeyNext}, RS256: {projections.KeyActive}}
	for alg, s := range states {
		slices.Sort(s)
		slices.Sort(want[alg])
		states[alg] = s
	}
	if !maps.EqualFunc(states, want, slices.Equal) {
		t.Fatalf("genesis keys %v, want %v", states, want)
	}
	ring := newRing(t, master, d.source())
	for alg, kid := range map[string]string{"": rot.Activated, ES256: rot.Activated} {
		s, err := ring.ActiveFor(alg)
		if err != nil || s.KID() != kid {
			t.Fatalf("ActiveFor(%q) = %v, %v; want %s", alg, s, err, kid)
		}
	}
	if s, err := ring.ActiveFor(RS256); err != nil || s.Alg() != RS256 {
		t.Fatalf("ActiveFor(RS256) = %v, %v", s, err)
	}
	if s, _ := ring.Active(); s.KID() != rot.Activated {
		t.Fatalf("Active = %s, want the primary's %s", s.KID(), rot.Activated)
	}
	if got := describeActions(plan(t0.Add(cfg.Interval), d.keys(), cfg)); len(got) != 1 || !strings.HasPrefix(got[0], "create-next/RS256 next@"+at(30*day).Format(time.RFC3339)) {
		t.Fatalf("the round after genesis: %q, want the RS256 family's next key", got)
	}
}

// TestFamiliesUpgradeLifecycle runs the lifecycle of a log made by a
// single-family build (ES256) under a build with an RS256 ID-token
// family, then with RS256 dropped again: the RS256 family's first key
// never signs before it has been published for the JWKS cache lifetime
// (until then ActiveFor(RS256) is the ES256 key, and says so); every
// family has one active key; both rotate; the dropped family's active key
// is retired and stays published for its retention, its next key leaves.
func TestFamiliesUpgradeLifecycle(t *testing.T) {
	master := masterKey(t)
	d := genesis(t, master, ES256)
	ring := newRing(t, master, d.source())
	published := map[string]time.Time{}
	genesisKid := map[string]bool{}
	for _, k := range d.keys() {
		genesisKid[k.KID] = true
	}
	signedBy := map[string][]string{} // alg asked → kids that signed, in order
	round := func(now time.Time, cfg Config) {
		t.Helper()
		for _, a := range plan(now, d.keys(), cfg) {
			app, _, err := build(now, a, cfg.withDefaults(), master)
			if err != nil {
				t.Fatalf("%s: build %s: %v", now, a, err)
			}
			d.apply(app.Events...)
		}
		if err := ring.Refresh(t.Context()); err != nil {
			t.Fatal(err)
		}
		body, _ := ring.PublicJWKS()
		var set struct{ Keys []struct{ KID string } }
		if err := json.Unmarshal(body, &set); err != nil {
			t.Fatal(err)
		}
		for _, k := range set.Keys {
			if _, ok := published[k.KID]; !ok {
				published[k.KID] = now
			}
		}
		perAlg := map[string]int{}
		for _, k := range d.keys() {
			if k.State == projections.KeyActive {
				perAlg[k.Alg]++
			}
		}
		for alg, n := range perAlg {
			if n != 1 {
				t.Fatalf("%s: %d active %s keys", now, n, alg)
			}
		}
		for _, alg := range []string{ES256, RS256} {
			s, err := ring.ActiveFor(alg)
			if err != nil {
				t.Fatalf("%s: ActiveFor(%s): %v", now, alg, err)
			}
			tok, err := s.Sign(map[string]any{"sub": "x"}, "JWT")
			if err != nil {
				t.Fatal(err)
			}
			if _, kid, err := ring.Verify(tok); err != nil || kid != s.KID() {
				t.Fatalf("%s: token of %s: %q, %v", now, s.KID(), kid, err)
			}
			if h := headerAlg(t, tok); h != s.Alg() {
				t.Fatalf("%s: token of a %s key says alg %s", now, s.Alg(), h)
			}
			if !genesisKid[s.KID()] && now.Before(published[s.KID()].Add(Config{}.withDefaults().JWKSCacheMaxAge)) {
				t.Fatalf("%s: %s signs, published only at %s", now, s.KID(), published[s.KID()])
			}
			if l := signedBy[alg]; len(l) == 0 || l[len(l)-1] != s.KID() {
				signedBy[alg] = append(l, s.KID())
			}
		}
	}
	withRS := Config{IDTokenAlgs: []string{RS256}}
	start := at(day)
	for now := start; now.Before(start.Add(time.Hour)); now = now.Add(time.Minute) {
		round(now, withRS)
	}
	for now := start.Add(time.Hour); now.Before(at(65 * day)); now = now.Add(step) {
		round(now, withRS)
	}
	if rs := signedBy[RS256]; len(rs) != 4 || rs[0] != signedBy[ES256][0] {
		t.Fatalf("RS256 was signed by %v (ES256 by %v): want the ES256 key, then the RS256 family's first, then two rotations", rs, signedBy[ES256])
	}
	if es := signedBy[ES256]; len(es) != 3 {
		t.Fatalf("ES256 was signed by %v, want three keys (rotations at days 30 and 60)", es)
	}
	// Drop RS256: its active key is retired (published until
	// remove_after), its next key removed; RS256 falls back to ES256.
	lastRS := signedBy[RS256][len(signedBy[RS256])-1]
	now := at(65*day + time.Hour)
	round(now, Config{})
	for _, k := range d.keys() {
		if k.Alg == RS256 && (k.State != projections.KeyRetired || k.KID != lastRS) {
			t.Fatalf("after RS256 was dropped: %s %s is %s", k.Alg, k.KID, k.State)
		}
	}
	if !ring.Published(lastRS) {
		t.Fatal("the retired RS256 key left the JWKS")
	}
	if s, _ := ring.ActiveFor(RS256); s.Alg() != ES256 {
		t.Fatalf("ActiveFor(RS256) after the drop = a %s key", s.Alg())
	}
	for ; !now.After(at(67 * day)); now = now.Add(step) {
		round(now, Config{})
	}
	if ring.Published(lastRS) {
		t.Fatal("the retired RS256 key is still published after its retention")
	}
}

func headerAlg(t *testing.T, tok string) string {
	t.Helper()
	jws, err := parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Header.Algorithm
}

// TestRotateNowFamilies: on the real log, RotateNow rotates every family,
// and the keyring signs with each family's new key.
func TestRotateNowFamilies(t *testing.T) {
	log, master, clk := openLog(t), masterKey(t), newClock()
	cfg := Config{Now: clk.Now, IDTokenAlgs: []string{RS256}}
	in := newInstance(t, log, master, cfg, new(atomic.Pointer[barrier]))
	for range 2 { // genesis, then the RS256 family's next key
		if err := in.rot.tick(t.Context()); err != nil {
			t.Fatal(err)
		}
		clk.Advance(cfg.withDefaults().Interval)
	}
	clk.Advance(day)
	es, _ := in.ring.ActiveFor(ES256)
	rs, _ := in.ring.ActiveFor(RS256)
	before, err := log.LastSeq(t.Context(), events.Control)
	if err != nil {
		t.Fatal(err)
	}
	rot, err := in.rot.RotateNow(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	all := logEvents(t, log)
	if got := countTypes(all[before:]); rot.Seq != uint64(len(all)) ||
		!maps.Equal(got, map[string]int{"key.activated": 2, "key.retired": 2, "key.created": 2}) {
		t.Fatalf("RotateNow appended %v, answered #%d, the log ends at #%d", got, rot.Seq, len(all))
	}
	es2, _ := in.ring.ActiveFor(ES256)
	rs2, _ := in.ring.ActiveFor(RS256)
	if es2.KID() == es.KID() || rs2.KID() == rs.KID() || es2.KID() != rot.Activated || rs2.Alg() != RS256 {
		t.Fatalf("after RotateNow: ES256 %s→%s (rotation says %s), RS256 %s→%s (%s)", es.KID(), es2.KID(), rot.Activated, rs.KID(), rs2.KID(), rs2.Alg())
	}
}
