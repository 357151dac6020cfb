package projections

import (
	"context"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// Retention (DESIGN.md invariant 8). A document that must not outlive a
// time (a revocation once its token has expired, an idempotency record
// after its replay window, a terminal delivery past its age) is given
// an expiry with ExpireAt, and the projector drops it once the log's
// clock of its stream reaches that time.
//
// The log's clock of a stream is the latest Time of the stream's events
// applied so far (events with a reducer only: those are always decoded),
// in whole seconds. Before applying an event that moves it to a later
// second, Apply sweeps every document whose expiry is at or before the
// new second. Expiry times are read from events and the sweep runs at
// points the log alone fixes, so a projection rebuilt from the log drops
// the same documents at the same events as the live one did (invariant
// 6), whatever the batches and whatever the wall clock of the instance
// applying them. An idle log's clock stands still: the server appends a
// clock.ticked event when something has expired by the wall clock and no
// event came to move the clock on (see DueExpiry).
const (
	// kindExpiry: one document per document with an expiry, by
	// "<kind>/<id>", in the partition expiryPartition(stream), sorted by
	// the expiry (SortTime).
	kindExpiry = "expiry"
	// kindLogClock: one document per stream, by stream name, whose Sort
	// is the stream's clock (SortTime, whole seconds).
	kindLogClock = "log_clock"

	logClockTenant = "_clock"
	// sweepPage is how many expiries a sweep reads at a time.
	sweepPage = 256
)

// emptyBody is the body of the retention's own documents, whose Sort says
// it all.
var emptyBody = []byte("{}")

// expiryPartition is the tenant of stream s's expiries.
func expiryPartition(s events.Stream) string {
	if p, ok := expiryPartitions[s]; ok {
		return p
	}
	return "_expiry/" + string(s)
}

// expiryPartitions are the known streams' expiry tenants, made once:
// ExpireAt runs several times an event.
var expiryPartitions = func() map[events.Stream]string {
	m := make(map[events.Stream]string, len(events.Streams))
	for _, s := range events.Streams {
		m[s] = "_expiry/" + string(s)
	}
	return m
}()

// appendSortTime appends t as SortTime formats it.
func appendSortTime(b []byte, t time.Time) []byte { return t.UTC().AppendFormat(b, SortLayout) }

// ExpireAt makes the projector drop kind/id, a document reduced from
// stream s, once the log's clock of s reaches at. A later ExpireAt of
// the same document replaces the earlier one. Reducers of every kind use
// it (records guarding a token or an assertion: expire them at its
// expiry).
//
// An expiry the transaction already sees, the same, is left as it is (a
// grant's, which most rotations do not move).
func ExpireAt(tx Tx, s events.Stream, kind, id string, at time.Time) error {
	eid, partition := kind+"/"+id, expiryPartition(s)
	var buf [len(SortLayout)]byte
	sort := appendSortTime(buf[:0], at)
	old, err := peekDoc(tx, kindExpiry, eid)
	if err != nil {
		return err
	}
	if old != nil && old.Sort == string(sort) && old.Tenant == partition {
		return nil
	}
	return putOwned(tx, Doc{Kind: kindExpiry, ID: eid, Tenant: partition, Sort: string(sort), Body: emptyBody})
}

// KeepForever cancels the expiry of kind/id, if it has one.
func KeepForever(tx Tx, kind, id string) error {
	err := tx.Delete(kindExpiry, kind+"/"+id)
	if isNotFound(err) {
		return nil
	}
	return err
}

// clock.ticked changes nothing but the log's clock (Apply's tick).
var _ = on(func(Tx, events.Event, *events.ClockTicked) error { return nil })

// tick moves the log's clock of e's stream to e's second, sweeping what
// expires by then, before e is applied.
func tick(tx Tx, e events.Event) error {
	if e.Time.IsZero() {
		return nil
	}
	s := events.StreamOf(e.Aggregate.Type)
	var buf [len(SortLayout)]byte
	second := appendSortTime(buf[:0], e.Time.Truncate(time.Second))
	d, err := peekDoc(tx, kindLogClock, string(s))
	switch {
	case err != nil:
		return err
	case d != nil && d.Sort >= string(second):
		return nil // the clock is there already (most events): no string made
	}
	now := string(second)
	if err := sweep(tx, s, now); err != nil {
		return err
	}
	return putOwned(tx, Doc{Kind: kindLogClock, ID: string(s), Tenant: logClockTenant, Sort: now, Body: emptyBody})
}

// sweep drops every document of stream s whose expiry is at or before
// now (a Sort value), and its expiry.
func sweep(tx Tx, s events.Stream, now string) error {
	for {
		docs, next, err := tx.List(kindExpiry, expiryPartition(s), Page{Limit: sweepPage})
		if err != nil {
			return err
		}
		for _, m := range docs {
			if m.Sort > now {
				return nil
			}
			kind, id, _ := strings.Cut(m.ID, "/")
			if err := tx.Delete(kind, id); err != nil {
				return err
			}
			if err := tx.Delete(kindExpiry, m.ID); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
	}
}

// LogClock returns the log's clock of stream s as the store has applied
// it (zero before its first event).
func LogClock(ctx context.Context, r Reader, s events.Stream) (time.Time, error) {
	d, err := r.Get(ctx, kindLogClock, string(s))
	if isNotFound(err) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(SortLayout, d.Sort)
}

// NextExpiry returns the earliest expiry of stream s's documents (false
// when none has one).
func NextExpiry(ctx context.Context, r Reader, s events.Stream) (time.Time, bool, error) {
	docs, _, err := r.List(ctx, kindExpiry, expiryPartition(s), Page{Limit: 1})
	if err != nil || len(docs) == 0 {
		return time.Time{}, false, err
	}
	at, err := time.Parse(SortLayout, docs[0].Sort)
	return at, err == nil, err
}

// DueExpiry reports whether a document of stream s has expired by now
// (the caller's wall clock) while the log's clock has not reached its
// expiry: the stream is idle, and an event (clock.ticked) would let the
// projector drop it.
func DueExpiry(ctx context.Context, r Reader, s events.Stream, now time.Time) (bool, error) {
	next, ok, err := NextExpiry(ctx, r, s)
	if err != nil || !ok || next.After(now) {
		return false, err
	}
	clock, err := LogClock(ctx, r, s)
	return err == nil && clock.Before(next), err
}
