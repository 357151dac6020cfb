package projections_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// keyEvents applies key events to a memory store, numbered as the control
// stream would number them.
type keyEvents struct {
	t   *testing.T
	s   *memory.Store
	seq uint64
}

func (k *keyEvents) apply(at time.Time, p events.Payload) error {
	var kid string
	switch p := p.(type) {
	case events.KeyCreated:
		kid = p.KID
	case events.KeyActivated:
		kid = p.KID
	case events.KeyRetired:
		kid = p.KID
	case events.KeyRemoved:
		kid = p.KID
	}
	e := events.MustNew(events.KeyRef(kid), events.System, at, p)
	e.Stream, e.Seq = events.Control, k.seq+1
	err := k.s.Update(k.t.Context(), events.Control, e.Seq, func(tx projections.Tx) error { return projections.Apply(tx, e) })
	if err == nil {
		k.seq++
	}
	return err
}

func (k *keyEvents) must(at time.Time, p events.Payload) {
	k.t.Helper()
	if err := k.apply(at, p); err != nil {
		k.t.Fatalf("apply %T: %v", p, err)
	}
}

func (k *keyEvents) list() []projections.Key {
	k.t.Helper()
	keys, err := projections.ListKeys(k.t.Context(), k.s)
	if err != nil {
		k.t.Fatalf("ListKeys: %v", err)
	}
	return keys
}

var k0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func created(kid string, at time.Time) events.KeyCreated {
	return events.KeyCreated{
		KID: kid, Alg: "ES256", PublicJWK: json.RawMessage(`{"kty":"EC","kid":"` + kid + `"}`),
		PrivateKeyEnc: "sealed-" + kid, CreatedAt: at, PublishAt: at, ActivateAt: at.Add(time.Hour),
	}
}

func TestKeyDocsFollowTheLifecycle(t *testing.T) {
	k := &keyEvents{t: t, s: memory.New()}
	k.must(k0, created("key_a", k0))
	want := projections.Key{KeyCreated: created("key_a", k0), State: projections.KeyNext, Version: 1}
	wantKeys(t, "created", k.list(), want)

	k.must(k0.Add(time.Hour), events.KeyActivated{KID: "key_a"})
	want.State, want.ActivatedAt, want.Version = projections.KeyActive, k0.Add(time.Hour), 2
	wantKeys(t, "activated", k.list(), want)

	k.must(k0.Add(2*time.Hour), events.KeyRetired{KID: "key_a", RetiredAt: k0.Add(2 * time.Hour), RemoveAfter: k0.Add(26 * time.Hour)})
	want.State, want.RetiredAt, want.RemoveAfter, want.Version = projections.KeyRetired, k0.Add(2*time.Hour), k0.Add(26*time.Hour), 3
	wantKeys(t, "retired", k.list(), want)

	k.must(k0.Add(26*time.Hour), events.KeyRemoved{KID: "key_a"})
	wantKeys(t, "removed", k.list())
	if _, err := k.s.Get(t.Context(), projections.KindKey, "key_a"); !errors.Is(err, projections.ErrNotFound) {
		t.Fatalf("removed key's document: %v, want ErrNotFound", err)
	}
}

func wantKeys(t *testing.T, step string, got []projections.Key, want ...projections.Key) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if len(got) != len(want) || string(g) != string(w) {
		t.Fatalf("after %s: keys\n%s\nwant\n%s", step, g, w)
	}
}

func TestKeyDocsAreSystemWide(t *testing.T) {
	k := &keyEvents{t: t, s: memory.New()}
	k.must(k0, created("key_a", k0))
	d, err := k.s.Get(t.Context(), projections.KindKey, "key_a")
	if err != nil {
		t.Fatal(err)
	}
	if d.Tenant != events.KeyTenant || len(d.Keys) != 0 {
		t.Fatalf("key doc tenant %q keys %v, want %q and none", d.Tenant, d.Keys, events.KeyTenant)
	}
	if docs, _, _ := k.s.List(t.Context(), projections.KindKey, "default", projections.Page{Limit: 10}); len(docs) != 0 {
		t.Fatalf("a tenant lists %d key documents", len(docs))
	}
}

// TestListKeysPages: ListKeys reads every page, oldest key first, even
// when creation times tie or the kids sort otherwise.
func TestListKeysPages(t *testing.T) {
	k := &keyEvents{t: t, s: memory.New()}
	const n = 250
	for i := range n {
		at := k0.Add(time.Duration(n-i) * time.Minute)
		k.must(at, created(fmt.Sprintf("key_%03d", i), at))
	}
	k.must(k0, created("key_zz", k0.Add(time.Duration(n)*time.Minute))) // ties with key_000
	keys := k.list()
	if len(keys) != n+1 {
		t.Fatalf("ListKeys returned %d keys, want %d", len(keys), n+1)
	}
	for i := 1; i < len(keys); i++ {
		a, b := keys[i-1], keys[i]
		if b.CreatedAt.Before(a.CreatedAt) || b.CreatedAt.Equal(a.CreatedAt) && b.KID < a.KID {
			t.Fatalf("keys %d and %d out of order: %s@%s, %s@%s", i-1, i, a.KID, a.CreatedAt, b.KID, b.CreatedAt)
		}
	}
	if keys[0].KID != "key_249" || keys[n].KID != "key_zz" {
		t.Fatalf("first %s, last %s; want key_249 and key_zz", keys[0].KID, keys[n].KID)
	}
}

// TestKeyEventsForAnUnknownKeyFail: an event about a key that was never
// created is a broken log; the projector must stop, not invent a key.
func TestKeyEventsForAnUnknownKeyFail(t *testing.T) {
	for _, p := range []events.Payload{
		events.KeyActivated{KID: "key_ghost"},
		events.KeyRetired{KID: "key_ghost", RetiredAt: k0, RemoveAfter: k0},
	} {
		k := &keyEvents{t: t, s: memory.New()}
		if err := k.apply(k0, p); !errors.Is(err, projections.ErrNotFound) {
			t.Errorf("%T for an unknown key: %v, want ErrNotFound", p, err)
		}
	}
	k := &keyEvents{t: t, s: memory.New()}
	if err := k.apply(k0, events.KeyRemoved{KID: "key_ghost"}); err != nil {
		t.Errorf("key.removed for an unknown key: %v, want nothing to do", err)
	}
}
