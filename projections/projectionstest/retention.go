package projectionstest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// retentionTests: every kind of document that would grow with traffic
// is dropped by a rule read from the log (DESIGN.md invariant 8), the
// same on every store.
var retentionTests = map[string]func(*testing.T, projections.Store){
	"RetentionRevocationAfterExpiry":   testRetentionRevocation,
	"RetentionRevocationGraceOfEvent":  testRetentionRevocationGrace,
	"RetentionClockNeverGoesBack":      testRetentionClockNeverGoesBack,
	"RetentionSameWhateverTheBatches":  testRetentionSameWhateverTheBatches,
	"RetentionManyExpireAtOnce":        testRetentionManyExpireAtOnce,
	"RetentionExpireAtReplacesEarlier": testRetentionExpireAtReplaces,
	"RetentionIdempotencyRecord":       testRetentionIdempotency,
	"RetentionDeliveries":              testRetentionDeliveries,
}

// r0 is the time the retention tests' logs start at.
var r0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// hvEvent builds an event of the high-volume stream at r0+at.
func hvEvent(tenant, aggType, id string, at time.Duration, p events.Payload) events.Event {
	e := events.MustNew(events.Ref{Tenant: tenant, Type: aggType, ID: id}, events.System, r0.Add(at), p)
	e.Stream = hv
	return e
}

// revoked is a token.revoked at r0+at of a token expiring at r0+exp.
func revoked(jti string, at, exp time.Duration) events.Event {
	return hvEvent("t1", events.AggToken, "app_1", at, &events.TokenRevoked{JTI: jti, AppID: "app_1", ExpiresAt: r0.Add(exp)})
}

// applyBatches applies evs to s in Updates of the high-volume stream, the
// batch sizes cycling through sizes.
func applyBatches(t *testing.T, s projections.Store, evs []events.Event, sizes ...int) {
	t.Helper()
	for i, n := 0, 0; i < len(evs); n++ {
		size := min(sizes[n%len(sizes)], len(evs)-i)
		batch := evs[i : i+size]
		i += size
		err := s.Update(t.Context(), hv, next(t, s, hv), func(tx projections.Tx) error {
			for _, e := range batch {
				if err := projections.Apply(tx, e); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
}

// isRevoked reports whether app_1's token jti is revoked in s.
func isRevoked(t *testing.T, s projections.Store, jti string) bool {
	t.Helper()
	ok, err := projections.IsRevoked(t.Context(), s, "app_1", jti)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func testRetentionRevocation(t *testing.T, s projections.Store) {
	exp := time.Hour
	gone := exp + projections.RevocationGrace
	applyBatches(t, s, []events.Event{revoked("a", 0, exp), revoked("b", 0, 2*exp)}, 1)
	applyBatches(t, s, []events.Event{revoked("c", gone-time.Second, 3*exp)}, 1)
	if !isRevoked(t, s, "a") {
		t.Fatal("the revocation of a went before the log's clock reached its expiry and grace")
	}
	applyBatches(t, s, []events.Event{revoked("d", gone, 3*exp)}, 1)
	if isRevoked(t, s, "a") {
		t.Fatal("the revocation of a stayed after the log's clock passed its token's expiry")
	}
	for _, jti := range []string{"b", "c", "d"} {
		if !isRevoked(t, s, jti) {
			t.Fatalf("the revocation of %s went before its token expired", jti)
		}
	}
	clock, err := projections.LogClock(t.Context(), s, hv)
	if err != nil || !clock.Equal(r0.Add(gone)) {
		t.Fatalf("LogClock = %v, %v; want %v", clock, err, r0.Add(gone))
	}
}

// testRetentionRevocationGrace: a revocation is kept for the grace its
// event names (grace_seconds), the default grace when it names none,
// whatever this instance's settings.
func testRetentionRevocationGrace(t *testing.T, s projections.Store) {
	exp := time.Hour
	withGrace := func(jti string, grace int64) events.Event {
		return hvEvent("t1", events.AggToken, "app_1", 0, &events.TokenRevoked{JTI: jti, AppID: "app_1", ExpiresAt: r0.Add(exp), GraceSeconds: grace})
	}
	applyBatches(t, s, []events.Event{withGrace("short", 1), withGrace("default", 0), withGrace("long", 600)}, 1)
	at := func(d time.Duration) {
		applyBatches(t, s, []events.Event{revoked("tick"+d.String(), d, 24*time.Hour)}, 1)
	}
	at(exp)
	if !isRevoked(t, s, "short") {
		t.Fatal("a revocation with a 1 s grace went at its token's expiry")
	}
	at(exp + time.Second)
	if isRevoked(t, s, "short") {
		t.Fatal("a revocation with a 1 s grace stayed 1 s past its token's expiry")
	}
	if !isRevoked(t, s, "default") || !isRevoked(t, s, "long") {
		t.Fatal("a revocation went before its grace ended")
	}
	at(exp + projections.RevocationGrace)
	if isRevoked(t, s, "default") {
		t.Fatal("a revocation without grace_seconds stayed past the default grace")
	}
	if !isRevoked(t, s, "long") {
		t.Fatal("a revocation with a 600 s grace went at the default grace")
	}
	at(exp + 10*time.Minute)
	if isRevoked(t, s, "long") {
		t.Fatal("a revocation with a 600 s grace stayed past it")
	}
}

// testRetentionClockNeverGoesBack: an event with an earlier time (an
// instance whose clock is behind) neither moves the clock back nor
// brings back what was dropped; expiry follows the latest time seen.
func testRetentionClockNeverGoesBack(t *testing.T, s projections.Store) {
	applyBatches(t, s, []events.Event{revoked("a", 0, time.Minute), revoked("b", time.Hour, 2*time.Hour), revoked("c", time.Second, 3*time.Hour)}, 1)
	if isRevoked(t, s, "a") || !isRevoked(t, s, "b") || !isRevoked(t, s, "c") {
		t.Fatal("a late event changed what the clock had decided")
	}
	clock, err := projections.LogClock(t.Context(), s, hv)
	if err != nil || !clock.Equal(r0.Add(time.Hour)) {
		t.Fatalf("LogClock = %v, %v; want %v", clock, err, r0.Add(time.Hour))
	}
}

// retentionLog is a log where expiries and events interleave: 40
// revocations a second apart of tokens living 0 to 9 minutes.
func retentionLog() []events.Event {
	var evs []events.Event
	for i := range 400 {
		at := time.Duration(i) * time.Second
		evs = append(evs, revoked(fmt.Sprintf("j%03d", i), at, at+time.Duration(i%10)*time.Minute-projections.RevocationGrace))
	}
	return evs
}

// testRetentionSameWhateverTheBatches: the live projector and a rebuild
// batch the log differently; what is kept is the same.
func testRetentionSameWhateverTheBatches(t *testing.T, s projections.Store) {
	evs := retentionLog()
	applyBatches(t, s, evs, 1, 7, 64, 3)
	var want []string
	last := evs[len(evs)-1].Time.Truncate(time.Second)
	for i, e := range evs {
		if exp := e.Time.Add(time.Duration(i%10) * time.Minute); exp.After(last) {
			want = append(want, fmt.Sprintf("app_1/j%03d", i))
		}
	}
	got := listAll(t, s, projections.KindRevokedToken, "t1", 100)
	slicesSortStrings(got)
	if !equal(got, want) {
		t.Fatalf("kept %d revocations %v\nwant %d %v", len(got), got, len(want), want)
	}
}

// testRetentionManyExpireAtOnce: a sweep drops more than a page of
// expiries in one go.
func testRetentionManyExpireAtOnce(t *testing.T, s projections.Store) {
	var evs []events.Event
	for i := range 700 {
		evs = append(evs, revoked(fmt.Sprintf("m%03d", i), 0, time.Minute))
	}
	applyBatches(t, s, evs, 700)
	applyBatches(t, s, []events.Event{revoked("late", time.Hour, 2*time.Hour)}, 1)
	if got := listAll(t, s, projections.KindRevokedToken, "t1", 100); !equal(got, []string{"app_1/late"}) {
		t.Fatalf("after the sweep %d revocations are left: %v", len(got), got[:min(len(got), 5)])
	}
}

// testRetentionExpireAtReplaces: the last ExpireAt of a document is the
// one that counts, also when a later transaction gives it the same one
// again, and KeepForever cancels it.
func testRetentionExpireAtReplaces(t *testing.T, s projections.Store) {
	mustWrite(t, s, func(tx projections.Tx) error {
		return errors.Join(tx.Put(doc("app", "x", "t1", "1", `{}`)), tx.Put(doc("app", "y", "t1", "2", `{}`)),
			tx.Put(doc("app", "z", "t1", "3", `{}`)),
			projections.ExpireAt(tx, hv, "app", "x", r0.Add(time.Minute)), projections.ExpireAt(tx, hv, "app", "x", r0.Add(time.Hour)),
			projections.ExpireAt(tx, hv, "app", "y", r0.Add(time.Minute)), projections.KeepForever(tx, "app", "y"),
			projections.ExpireAt(tx, hv, "app", "z", r0.Add(time.Minute)),
			projections.KeepForever(tx, "app", "never-had-one"))
	})
	mustWrite(t, s, func(tx projections.Tx) error {
		return errors.Join(projections.ExpireAt(tx, hv, "app", "x", r0.Add(time.Hour)), projections.ExpireAt(tx, hv, "app", "z", r0.Add(time.Minute)))
	})
	applyBatches(t, s, []events.Event{revoked("a", 10*time.Minute, 20*time.Hour)}, 1)
	if got := listAll(t, s, "app", "t1", 10); !equal(got, []string{"x", "y"}) {
		t.Fatalf("at +10m: %v", got)
	}
	applyBatches(t, s, []events.Event{revoked("b", time.Hour, 20*time.Hour)}, 1)
	if got := listAll(t, s, "app", "t1", 10); !equal(got, []string{"y"}) {
		t.Fatalf("at +1h: %v", got)
	}
}

func slicesSortStrings(s []string) { slices.Sort(s) }

// testRetentionIdempotency: a key's record goes RetainSeconds after the
// key's last event (default 24 h for records that name none), and an
// answer recorded for a dropped key changes nothing.
func testRetentionIdempotency(t *testing.T, s projections.Store) {
	key := func(id string) events.Ref { return events.Ref{Tenant: "t1", Type: events.AggIdempotency, ID: id} }
	started := func(id string, at time.Duration, retain int64) events.Event {
		return hvEvent("t1", events.AggIdempotency, id, at, &events.IdempotencyStarted{Method: "POST", Path: "/x", Fingerprint: "f", RetainSeconds: retain})
	}
	completed := func(id string, at time.Duration) events.Event {
		return hvEvent("t1", events.AggIdempotency, id, at, &events.IdempotencyCompleted{Status: 201, ContentType: "application/json", BodySealed: "c2VhbGVk"})
	}
	has := func(id string) bool {
		_, err := projections.GetIdempotency(t.Context(), s, key(id))
		if err != nil && !errors.Is(err, projections.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	applyBatches(t, s, []events.Event{started("short", 0, 60), started("day", 0, 0), completed("short", 30*time.Second)}, 2)
	applyBatches(t, s, []events.Event{started("other", 89*time.Second, 60)}, 1)
	if !has("short") {
		t.Fatal("the record went before its retention after its last event")
	}
	rec, _ := projections.GetIdempotency(t.Context(), s, key("short"))
	if want := r0.Add(90 * time.Second); !rec.ExpiresAt.Equal(want) || rec.State != projections.IdemCompleted {
		t.Fatalf("record %+v, want completed, expiring at %v", rec, want)
	}
	applyBatches(t, s, []events.Event{started("other2", 90*time.Second, 60)}, 1)
	if has("short") || !has("day") {
		t.Fatalf("at +90s: short kept %v (want dropped), day kept %v (want kept)", has("short"), has("day"))
	}
	applyBatches(t, s, []events.Event{completed("short", 91*time.Second), started("late", 24*time.Hour, 60)}, 2)
	if has("short") || has("day") {
		t.Fatal("a dropped record came back, or the default retention is not 24 h")
	}
}

// testRetentionDeliveries: a terminal delivery loses its body; each
// webhook keeps its Keep most recent deliveries (one still pending goes
// when it ends), and a terminal one goes RetainSeconds after its last
// attempt.
func testRetentionDeliveries(t *testing.T, s projections.Store) {
	created := func(id string, at time.Duration) events.Event {
		wh := "wh_1"
		if id == "x" || id == "y" {
			wh = "wh_2" // only moves the log's clock
		}
		return hvEvent("t1", events.AggDelivery, id, at, &events.DeliveryCreated{WebhookID: wh, AppID: "app_1", EventID: "evt_" + id,
			Type: "case.updated", Body: []byte(`{"big":"body"}`), LeaseUntil: r0.Add(at), Keep: 3, RetainSeconds: 3600})
	}
	attempted := func(id string, at time.Duration, outcome events.DeliveryStatus) events.Event {
		return hvEvent("t1", events.AggDelivery, id, at, &events.DeliveryAttempted{Attempt: 1,
			DeliveryResult: events.DeliveryResult{At: r0.Add(at), StatusCode: 500, ErrorClass: "http_status"}, Outcome: outcome})
	}
	ids := func() []string {
		got := listAll(t, s, projections.KindDelivery, "t1/wh_1", 100)
		slices.Sort(got)
		return got
	}
	applyBatches(t, s, []events.Event{created("d1", 0), created("d2", time.Second), attempted("d2", 2*time.Second, events.DeliveryFailed),
		created("d3", 3*time.Second), attempted("d3", 4*time.Second, events.DeliveryDelivered)}, 2)
	for _, id := range []string{"d2", "d3"} {
		d, err := projections.GetDelivery(t.Context(), s, "t1", id)
		if err != nil || len(d.Body) != 0 {
			t.Fatalf("terminal delivery %s: body %q, %v; want none", id, d.Body, err)
		}
	}
	applyBatches(t, s, []events.Event{created("d4", 5*time.Second), created("d5", 6*time.Second)}, 1)
	if got := ids(); !equal(got, []string{"d1", "d3", "d4", "d5"}) {
		t.Fatalf("after 5 deliveries with keep 3: %v (want d2 dropped, d1 kept until it ends)", got)
	}
	applyBatches(t, s, []events.Event{attempted("d1", 7*time.Second, events.DeliveryFailed)}, 1)
	if got := ids(); !equal(got, []string{"d3", "d4", "d5"}) {
		t.Fatalf("after the pending evicted d1 failed: %v", got)
	}
	applyBatches(t, s, []events.Event{attempted("d4", 8*time.Second, events.DeliveryDelivered), created("x", time.Hour+4*time.Second)}, 1)
	if got := ids(); !equal(got, []string{"d4", "d5"}) {
		t.Fatalf("an hour after d3's last attempt: %v (want d3 gone, d4 kept, pending d5 kept)", got)
	}
	applyBatches(t, s, []events.Event{created("y", 3*time.Hour)}, 1)
	if got := ids(); !equal(got, []string{"d5"}) {
		t.Fatalf("hours later: %v (want only the pending d5)", got)
	}
}
