package jwks

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/sealing"
)

const day = 24 * time.Hour

// at is t0 + d.
func at(d time.Duration) time.Time { return t0.Add(d) }

func stamp(d time.Duration) string { return at(d).Format(time.RFC3339) }

// Key documents for the plan tables, with the default Config: period 30
// days, publish window 5m15s (cache 5m + interval 15s), retention 24h5m.
var (
	window = Config{}.withDefaults().publishWindow()
	active = projections.Key{KeyCreated: events.KeyCreated{KID: "A", Alg: ES256, PublishAt: at(0), ActivateAt: at(0)}, State: projections.KeyActive, ActivatedAt: at(0), Version: 2}
	next   = projections.Key{KeyCreated: events.KeyCreated{KID: "N", Alg: ES256, PublishAt: at(0), ActivateAt: at(30 * day)}, State: projections.KeyNext, Version: 3}
)

func with(k projections.Key, f func(*projections.Key)) projections.Key {
	f(&k)
	return k
}

func retired(kid string, removeAfter time.Duration) projections.Key {
	return projections.Key{KeyCreated: events.KeyCreated{KID: kid, Alg: ES256}, State: projections.KeyRetired, RemoveAfter: at(removeAfter), Version: 1}
}

func TestPlan(t *testing.T) {
	young := func(age time.Duration) projections.Key {
		return with(next, func(k *projections.Key) { k.PublishAt = at(30*day - age) })
	}
	otherAlg := with(next, func(k *projections.Key) { k.Alg = RS256 })
	for _, c := range []struct {
		name string
		now  time.Duration
		keys []projections.Key
		want []string
	}{
		{"no keys: first start", 0, nil, []string{"genesis next@" + stamp(30*day)}},
		{"fresh active and next: nothing", day, []projections.Key{active, next}, nil},
		{"period over, next published long ago: rotate", 30 * day, []projections.Key{active, next},
			[]string{"rotate N retire A next@" + stamp(60*day)}},
		{"period over, next too young: wait", 30 * day, []projections.Key{active, young(window - time.Second)}, nil},
		{"period over, next published exactly the window: rotate", 30 * day, []projections.Key{active, young(window)},
			[]string{"rotate N retire A next@" + stamp(60*day)}},
		{"next's activate_at came before the period ends", 2 * day, []projections.Key{active, with(next, func(k *projections.Key) { k.ActivateAt = at(2 * day) })},
			[]string{"rotate N retire A next@" + stamp(32*day)}},
		{"active without next: create one for the end of the period", day, []projections.Key{active},
			[]string{"create-next next@" + stamp(30*day)}},
		{"overdue active without next: create one after the window", 40 * day, []projections.Key{active},
			[]string{"create-next next@" + stamp(40*day+window)}},
		{"next without active: activate it", day, []projections.Key{next}, []string{"activate N"}},
		{"retired before remove_after: kept", day, []projections.Key{retired("R", day+time.Second), active, next}, nil},
		{"retired at remove_after: removed", day, []projections.Key{retired("R", day), active, next}, []string{"remove R"}},
		{"removals and a rotation in one round", 30 * day, []projections.Key{retired("R1", day), retired("R2", 31*day), retired("R3", 29*day), active, next},
			[]string{"remove R1", "remove R3", "rotate N retire A next@" + stamp(60*day)}},
		{"next of another algorithm: replaced, same activation", day, []projections.Key{active, otherAlg},
			[]string{"replace-next N next@" + stamp(30*day)}},
		{"next of another algorithm when due: replaced, after the window", 30 * day, []projections.Key{active, otherAlg},
			[]string{"replace-next N next@" + stamp(30*day+window)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := describeActions(plan(at(c.now), c.keys, Config{}))
			if !slices.Equal(got, append([]string{}, c.want...)) {
				t.Fatalf("plan = %q\nwant   %q", got, c.want)
			}
		})
	}
}

func TestPlanRotateNow(t *testing.T) {
	youngNext := with(next, func(k *projections.Key) { k.PublishAt = at(day - time.Minute) })
	otherAlg := with(next, func(k *projections.Key) { k.Alg = EdDSA })
	for _, c := range []struct {
		name string
		keys []projections.Key
		want string
	}{
		{"next published long enough: it signs now", []projections.Key{active, next}, "rotate N retire A next@" + stamp(31*day)},
		{"next too young: a new next key activates after its window", []projections.Key{active, youngNext}, "replace-next N next@" + stamp(day+window)},
		{"next of another algorithm: replaced", []projections.Key{active, otherAlg}, "replace-next N next@" + stamp(day+window)},
		{"no next key: one activates after its window", []projections.Key{active}, "create-next next@" + stamp(day+window)},
		{"no keys: first start", nil, "genesis next@" + stamp(31*day)},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := describeActions(planRotateNow(at(day), c.keys, Config{}))
			if len(got) != 1 || got[0] != c.want {
				t.Fatalf("planRotateNow = %q, want [%q]", got, c.want)
			}
		})
	}
}

// TestPlanDedupe: instances deciding on the same key set name their
// appends alike (so the log keeps one); a changed key set or another
// action gets another name.
func TestPlanDedupe(t *testing.T) {
	keys := []projections.Key{retired("R", 0), active, next}
	a, b := plan(at(30*day), keys, Config{}), plan(at(30*day+time.Minute), keys, Config{})
	if len(a) != 2 || a[0].dedupe != b[0].dedupe || a[1].dedupe != b[1].dedupe {
		t.Fatalf("same key set, different DedupeIDs: %v / %v", a, b)
	}
	if a[0].dedupe == a[1].dedupe {
		t.Fatalf("two actions share DedupeID %q", a[0].dedupe)
	}
	moved := []projections.Key{retired("R", 0), active, with(next, func(k *projections.Key) { k.Version++ })}
	if c := plan(at(30*day), moved, Config{}); c[1].dedupe == a[1].dedupe {
		t.Fatal("a changed key set kept the DedupeID")
	}
	if g := plan(t0, nil, Config{}); !strings.HasPrefix(g[0].dedupe, "keys:genesis:") {
		t.Fatalf("genesis DedupeID = %q", g[0].dedupe)
	}
}

// TestBuildExpectsVersions: every append expects the version of each key
// it changes and 0 for each key it creates, so racing instances conflict.
func TestBuildExpectsVersions(t *testing.T) {
	master := masterKey(t)
	for _, c := range []struct {
		a     action
		types []string
		seqs  []uint64 // expected versions, in order of first event per key
	}{
		{action{op: opGenesis, nextAt: at(30 * day)}, []string{"key.created", "key.activated", "key.created"}, []uint64{0, 0}},
		{action{op: opRotate, key: next, retire: active, nextAt: at(60 * day)}, []string{"key.activated", "key.retired", "key.created"}, []uint64{3, 2, 0}},
		{action{op: opActivate, key: next}, []string{"key.activated"}, []uint64{3}},
		{action{op: opCreateNext, nextAt: at(30 * day)}, []string{"key.created"}, []uint64{0}},
		{action{op: opReplaceNext, key: next, nextAt: at(30 * day)}, []string{"key.removed", "key.created"}, []uint64{3, 0}},
		{action{op: opRemove, key: retired("R", 0)}, []string{"key.removed"}, []uint64{1}},
	} {
		t.Run(string(c.a.op), func(t *testing.T) {
			c.a.dedupe = "keys:test"
			app, _, err := build(at(day), c.a, Config{}.withDefaults(), master)
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, e := range app.Events {
				types = append(types, e.Type)
				if e.Aggregate.Tenant != events.KeyTenant || e.Aggregate.Type != events.AggKey || e.Actor != events.System {
					t.Errorf("event %s on %s by %v", e.Type, e.Aggregate, e.Actor)
				}
				assertNoPrivateKey(t, master, e)
			}
			var seqs []uint64
			for _, x := range app.Expect {
				seqs = append(seqs, x.Seq)
			}
			if !slices.Equal(types, c.types) || !slices.Equal(seqs, c.seqs) || app.DedupeID != "keys:test" {
				t.Fatalf("append = %v expecting %v (%q), want %v expecting %v", types, seqs, app.DedupeID, c.types, c.seqs)
			}
		})
	}
}

// assertNoPrivateKey fails when e carries a private key in the clear: a
// private JWK member or the PKCS#8 encoding of a key it creates.
func assertNoPrivateKey(t *testing.T, master *sealing.Sealer, e events.Event) {
	t.Helper()
	var members map[string]json.RawMessage
	if err := json.Unmarshal(e.Data, &members); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"d", "p", "q", "dp", "dq", "qi", "private_key", "private_jwk"} {
		if _, ok := members[m]; ok {
			t.Errorf("%s has member %q", e.Type, m)
		}
	}
	if e.Type != "key.created" {
		return
	}
	var p events.KeyCreated
	if err := json.Unmarshal(e.Data, &p); err != nil {
		t.Fatal(err)
	}
	priv, err := Open(master, p.KID, p.PrivateKeyEnc)
	if err != nil {
		t.Fatalf("key.created %s: %v", p.KID, err)
	}
	for _, secret := range privateEncodings(t, priv) {
		if strings.Contains(string(e.Data), secret) {
			t.Errorf("key.created %s holds its private key in the clear (%.12s…)", p.KID, secret)
		}
	}
}

// privateEncodings returns the ways a private key could leak: its PKCS#8
// DER in base64 (both alphabets) and each private JWK member's value.
func privateEncodings(t *testing.T, priv any) []string {
	t.Helper()
	out := pkcs8Encodings(t, priv)
	full, err := json.Marshal(jwkOf(priv))
	if err != nil {
		t.Fatal(err)
	}
	var members map[string]any
	_ = json.Unmarshal(full, &members)
	for _, m := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		if v, ok := members[m].(string); ok {
			out = append(out, v)
		}
	}
	if len(out) < 3 {
		t.Fatalf("found only %d private encodings of a %T", len(out), priv)
	}
	return out
}

func TestPlanIsPure(t *testing.T) {
	keys := []projections.Key{retired("R", 0), active, next}
	before := fmt.Sprint(keys)
	a := describeActions(plan(at(30*day), keys, Config{}))
	b := describeActions(plan(at(30*day), keys, Config{}))
	if !slices.Equal(a, b) || fmt.Sprint(keys) != before {
		t.Fatalf("plan differs between calls or changed its input: %v / %v", a, b)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{}, true},
		{Config{Alg: RS256, RSABits: 3072}, true},
		{Config{Alg: EdDSA}, true},
		{Config{Alg: "HS256"}, false},
		{Config{Alg: "none"}, false},
		{Config{Alg: RS256, RSABits: 1024}, false},
		{Config{RotationPeriod: time.Minute}, false},
		{Config{MaxTokenTTL: -time.Hour}, false},
	} {
		if err := c.cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", c.cfg, err, c.ok)
		}
	}
	if _, err := NewRotator(nil, nil, masterKey(t), Config{Alg: "none"}); err == nil {
		t.Error("NewRotator accepted alg none")
	}
	keys, _ := sealing.New(make([]byte, sealing.MasterKeySize))
	for _, s := range []*sealing.Sealer{nil, keys.Purpose(sealing.WebhookSecret)} {
		if _, err := NewRotator(nil, nil, s, Config{}); !errors.Is(err, errPurpose) {
			t.Errorf("NewRotator with the sealer %v = %v, want errPurpose", s, err)
		}
	}
}
