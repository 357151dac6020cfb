package oauth

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// countingStore is a memory store that counts the reads made through it.
type countingStore struct {
	*memory.Store
	reads atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, kind, id string) (projections.Doc, error) {
	s.reads.Add(1)
	return s.Store.Get(ctx, kind, id)
}

func (s *countingStore) Lookup(ctx context.Context, kind, key string) (projections.Doc, error) {
	s.reads.Add(1)
	return s.Store.Lookup(ctx, kind, key)
}

// TestCheckedPrincipalCached: a token checked again while nothing it was
// read from changed is answered without reading the store, with the same
// principal; a commit of another kind leaves it cached; a scope revoked,
// the token revoked, the app deactivated count at the next check.
func TestCheckedPrincipalCached(t *testing.T) {
	ctx := t.Context()
	now := time.Now().Truncate(time.Second)
	o, _ := fuzzOAuth(t, now)
	mem := o.cfg.Store.(*memory.Store)
	store := &countingStore{Store: mem}
	checker := *o.checker
	checker.Store = store
	seq := map[events.Stream]uint64{events.Control: 1}
	apply := func(stream events.Stream, ref events.Ref, p events.Payload) {
		t.Helper()
		seq[stream]++
		ev := events.MustNew(ref, events.Actor{Kind: events.ActorSystem, ID: "test"}, now, p)
		ev.Stream, ev.Seq = stream, seq[stream]
		if err := mem.Update(ctx, ev.Stream, ev.Seq, func(tx projections.Tx) error { return projections.Apply(tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}
	appRef := events.Ref{Tenant: "default", Type: events.AggApp, ID: "app_fuzz"}
	apply(events.Control, appRef, &events.AppScopeRequested{Scopes: []events.ScopeGrant{{Scope: "cases:read", Status: events.GrantApproved}}})
	tok2, err := o.cfg.Signer.Sign(fuzzClaims(now, "platform:apps:read cases:read"), "at+jwt")
	if err != nil {
		t.Fatal(err)
	}

	first, err := checker.Check(ctx, tok2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first.Scopes, []string{"platform:apps:read", "cases:read"}) {
		t.Fatalf("scopes %v", first.Scopes)
	}
	before := store.reads.Load()
	if before == 0 {
		t.Fatal("the first check read nothing")
	}
	again, err := checker.Check(ctx, tok2)
	if err != nil {
		t.Fatal(err)
	}
	if n := store.reads.Load() - before; n != 0 {
		t.Fatalf("the second check read the store %d times, want 0 (cached)", n)
	}
	if again.AppID != first.AppID || again.Claims.JTI != first.Claims.JTI || !slices.Equal(again.Scopes, first.Scopes) {
		t.Fatalf("cached principal %+v, first %+v", again, first)
	}
	if cap(again.Scopes) != len(again.Scopes) {
		t.Fatal("the cached scopes can be appended to in place")
	}

	// A commit of a kind the check did not read leaves it cached, unless
	// one of the kinds it writes shares a change counter with one the
	// check read: the memory store's counters are slots by a hash seeded
	// per process, and a shared one moves for both (about one process in
	// 200 here: the check then reads again, which is right, not stale).
	_, slot, err := checker.Verifier.(*accessVerifier).verifySlot(tok2)
	if err != nil || slot == nil || slot.p.Load() == nil {
		t.Fatalf("no cached principal (%v)", err)
	}
	read := slot.p.Load().stamps
	apply(events.Control, events.Ref{Tenant: "default", Type: events.AggUser, ID: "usr_1"},
		&events.UserCreated{Email: "ada@example.com", Name: "Ada", Roles: []string{events.RoleMember}})
	shared := !read.Current(mem)
	before = store.reads.Load()
	if _, err := checker.Check(ctx, tok2); err != nil {
		t.Fatal(err)
	}
	switch n := store.reads.Load() - before; {
	case shared && n == 0:
		t.Fatal("a commit that moved a counter the check read left it cached")
	case !shared && n != 0:
		t.Fatalf("a user's creation made the check read %d times, want 0", n)
	}

	// A scope revoked counts at once.
	apply(events.Control, appRef, &events.AppScopeRevoked{Scope: "cases:read"})
	p, err := checker.Check(ctx, tok2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Scopes, []string{"platform:apps:read"}) {
		t.Fatalf("after the scope's revocation: scopes %v", p.Scopes)
	}

	// The token revoked: inactive at once.
	apply(events.HighVolume, events.Ref{Tenant: "default", Type: events.AggToken, ID: "jti-fuzz"},
		&events.TokenRevoked{JTI: "jti-fuzz", AppID: "app_fuzz", ExpiresAt: now.Add(time.Hour)})
	if _, err := checker.Check(ctx, tok2); !isInactive(err) {
		t.Fatalf("a revoked token: %v, want inactive", err)
	}

	// Another token of the app, cached, then the app deactivated.
	other := fuzzClaims(now, "platform:apps:read")
	other.JTI = "jti-other"
	tok3, err := o.cfg.Signer.Sign(other, "at+jwt")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := checker.Check(ctx, tok3); err != nil {
			t.Fatal(err)
		}
	}
	inactive := false
	apply(events.Control, appRef, &events.AppUpdated{Active: &inactive})
	if _, err := checker.Check(ctx, tok3); !isInactive(err) {
		t.Fatalf("a deactivated app's token: %v, want inactive", err)
	}
}
