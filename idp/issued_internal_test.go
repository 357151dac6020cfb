package idp

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// issuedEvent is an authz_code.issued of grant id for code hash h,
// expiring at exp, as the authorization endpoint writes it.
func issuedEvent(t *testing.T, id, h string, at, exp time.Time) (events.Event, *events.AuthCodeIssued) {
	t.Helper()
	p := &events.AuthCodeIssued{CodeHash: h, AppID: "app-1", ClientID: "client-1", UserID: "user-1",
		RequestedScopes: []string{"openid", "read"}, GrantedScopes: []string{"openid", "read"},
		RedirectURI: "http://127.0.0.1/callback", CodeChallenge: "challenge", ChallengeMethod: "S256",
		Nonce: "n", AuthTime: at.Add(-time.Minute), RequestedAt: at, ExpiresAt: exp}
	e, err := events.New(grantRef("tenant-1", id), idpActor, at, p)
	if err != nil {
		t.Fatal(err)
	}
	return e, p
}

// The grant handed to a redemption is the document the projection makes
// of the same issue: the redemption reads the same whichever answers.
func TestIssuedCodeIsTheProjectionsGrant(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	e, p := issuedEvent(t, "grant-1", "hash-1", now, now.Add(CodeTTL))
	e.Seq = 42
	store := memory.New()
	if err := store.Update(t.Context(), events.HighVolume, e.Seq, func(tx projections.Tx) error { return projections.Apply(tx, e) }); err != nil {
		t.Fatal(err)
	}
	want, err := projections.GrantByCode(t.Context(), store, "hash-1")
	if err != nil {
		t.Fatal(err)
	}
	c := newIssuedCodes(func() time.Time { return now }, 10)
	c.add(e, p, 42)
	got, ok := c.get("hash-1")
	if !ok {
		t.Fatal("the code issued is not found")
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("issued grant\n%+v\nprojection's\n%+v", got, want)
	}
	// Each reader has its own copy (fosite's request takes the scopes).
	got.RequestedScopes[0] = "changed"
	if again, _ := c.get("hash-1"); again.RequestedScopes[0] != "openid" {
		t.Fatalf("a reader's change reached the record: %v", again.RequestedScopes)
	}
}

func TestIssuedCodesLifetimeAndBound(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	clock := now
	c := newIssuedCodes(func() time.Time { return clock }, 3)
	add := func(i int, exp time.Time) {
		e, p := issuedEvent(t, fmt.Sprint("grant-", i), fmt.Sprint("hash-", i), clock, exp)
		c.add(e, p, uint64(i))
	}
	has := func(i int) bool { _, ok := c.get(fmt.Sprint("hash-", i)); return ok }

	add(1, now.Add(10*time.Second))
	add(2, now.Add(20*time.Second))
	add(3, now.Add(30*time.Second))
	add(4, now.Add(40*time.Second)) // past the bound: not held
	if !has(1) || !has(2) || !has(3) || has(4) {
		t.Fatalf("held 1-4: %v %v %v %v, want the first three", has(1), has(2), has(3), has(4))
	}
	if has(99) {
		t.Fatal("a code never issued here is found")
	}

	// A redeemed code is forgotten, and leaves room.
	c.forget("hash-2")
	if has(2) {
		t.Fatal("a forgotten code is still found")
	}
	if len(c.order) != 3 {
		t.Fatalf("%d places after forgetting a code behind another, want 3", len(c.order))
	}
	add(5, now.Add(50*time.Second))
	if !has(5) {
		t.Fatal("no room after a code was forgotten")
	}

	// An expired code is not answered, and is dropped at the next issue.
	clock = now.Add(10 * time.Second)
	if has(1) {
		t.Fatal("an expired code is found")
	}
	add(6, clock.Add(CodeTTL))
	if _, held := c.byKey["hash-1"]; held || !has(3) || !has(5) || !has(6) {
		t.Fatalf("after expiry: held %v, want 3, 5 and 6", c.byKey)
	}
	clock = now.Add(time.Hour)
	add(7, clock.Add(CodeTTL))
	if len(c.byKey) != 1 || len(c.order) != 1 || !has(7) {
		t.Fatalf("an hour later: %d codes, %d places, want only the new one", len(c.byKey), len(c.order))
	}
	// Its redemption leaves nothing held.
	c.forget("hash-7")
	if len(c.byKey) != 0 || c.order != nil {
		t.Fatalf("after the last redemption: %d codes, %d places", len(c.byKey), len(c.order))
	}
}
