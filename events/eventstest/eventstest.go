// Package eventstest is the conformance suite of events.Log: every
// implementation's test file calls Run, so every implementation keeps the
// same promises (optimistic concurrency, atomic batches, de-duplication,
// ordered following) and no behaviour is tested for one of them only.
package eventstest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// Wait bounds every wait of the suite on the log (a followed event, the end
// of a Follow). It is generous: reaching it means the log is broken, not slow.
var Wait = 15 * time.Second

// Concurrency is the number of appenders racing at one expected version.
var Concurrency = 16

// Run runs the conformance suite against the Log implementation that open
// returns. The Packed cases run when it also implements events.Packer, the
// Scan cases when it implements events.Scanner (ScanPacked* when both).
// Each call of open must return a fresh, empty log (nothing in any
// stream) that no other call shares. Subtests run in parallel, so open must
// be safe to call concurrently; it should register its own cleanup.
func Run(t *testing.T, open func(t *testing.T) events.Log) {
	t.Helper()
	for _, c := range []struct {
		name string
		test func(*testing.T, events.Log)
	}{
		{"AppendAndRead", testAppendAndRead},
		{"ReadNotFound", testReadNotFound},
		{"ExpectNewAggregate", testExpectNewAggregate},
		{"VersionConflict", testVersionConflict},
		{"ConcurrentAppendsAtOneVersion", testConcurrentAppends},
		{"AtomicBatch", testAtomicBatch},
		{"AtomicBatchAllOrNothing", testAtomicBatchAllOrNothing},
		{"Dedupe", testDedupe},
		{"Follow", testFollow},
		{"FollowStops", testFollowStops},
		{"MixedStreams", testMixedStreams},
		{"Invalid", testInvalid},
		{"LastSeq", testLastSeq},
		{"Packed", testPacked},
		{"PackedSplit", testPackedSplit},
		{"PackedInvalid", testPackedInvalid},
		{"ScanTenants", testScanTenants},
		{"ScanPacked", testScanPacked},
		{"ScanMaxScan", testScanMaxScan},
		{"ScanPackedMaxScan", testScanPackedMaxScan},
		{"ScanEmpty", testScanEmpty},
		{"ScanInvalid", testScanInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.test(t, open(t))
		})
	}
}

// t0 is the time of every event the suite appends.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

var actor = events.Actor{Kind: events.ActorApp, ID: "app_suite"}

func appRef(tenant string) events.Ref {
	return events.Ref{Tenant: tenant, Type: events.AggApp, ID: events.NewID("app")}
}

func tokenRef(tenant string) events.Ref {
	return events.Ref{Tenant: tenant, Type: events.AggToken, ID: events.NewID("tok")}
}

// event returns a new event for ref with a payload that fits its type and a
// body that tells events apart.
func event(t *testing.T, ref events.Ref) events.Event {
	t.Helper()
	var p events.Payload
	switch ref.Type {
	case events.AggToken:
		p = events.TokenMinted{JTI: ref.ID, AppID: "app_x", ClientID: "client_x", Subject: "user_1",
			GrantType: "client_credentials", Scopes: []string{"read"}, ExpiresAt: t0.Add(time.Hour)}
	default:
		name := events.NewID("name")
		p = events.AppUpdated{Name: &name}
	}
	e, err := events.New(ref, actor, t0, p)
	if err != nil {
		t.Fatalf("events.New(%s): %v", ref, err)
	}
	return e
}

func mustAppend(t *testing.T, l events.Log, a events.Append) events.Result {
	t.Helper()
	r, err := l.Append(t.Context(), a)
	if err != nil {
		t.Fatalf("Append(%s): %v", describe(a), err)
	}
	if len(r.Seqs) != len(a.Events) {
		t.Fatalf("Append(%s): %d sequences for %d events", describe(a), len(r.Seqs), len(a.Events))
	}
	for i := 1; i < len(r.Seqs); i++ {
		if r.Seqs[i] <= r.Seqs[i-1] {
			t.Fatalf("Append(%s): sequences %v are not increasing", describe(a), r.Seqs)
		}
	}
	if want := events.StreamOf(a.Events[0].Aggregate.Type); r.Stream != want {
		t.Fatalf("Append(%s): stream %q, want %q", describe(a), r.Stream, want)
	}
	if r.Duplicate {
		t.Fatalf("Append(%s): Duplicate set on a first append", describe(a))
	}
	return r
}

// appendOne appends the events and returns their sequences.
func appendOne(t *testing.T, l events.Log, es ...events.Event) []uint64 {
	t.Helper()
	return mustAppend(t, l, events.Append{Events: es}).Seqs
}

func describe(a events.Append) string {
	parts := make([]string, len(a.Events))
	for i, e := range a.Events {
		parts[i] = e.Aggregate.String()
	}
	return fmt.Sprintf("%d events [%s] expect %v dedupe %q", len(a.Events), strings.Join(parts, " "), a.Expect, a.DedupeID)
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// wantEvents checks that got are want, in order, at sequences seqs.
func wantEvents(t *testing.T, what string, got, want []events.Event, seqs []uint64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events %v, want %d %v", what, len(got), ids(got), len(want), ids(want))
	}
	for i := range want {
		if err := sameEvent(got[i], want[i]); err != nil {
			t.Fatalf("%s: event %d: %v", what, i, err)
		}
		if got[i].Seq != seqs[i] {
			t.Fatalf("%s: event %d (%s) at seq %d, want %d", what, i, got[i].ID, got[i].Seq, seqs[i])
		}
		if s := events.StreamOf(want[i].Aggregate.Type); got[i].Stream != s {
			t.Fatalf("%s: event %d (%s) in stream %q, want %q", what, i, got[i].ID, got[i].Stream, s)
		}
	}
}

func sameEvent(got, want events.Event) error {
	switch {
	case got.ID != want.ID:
		return fmt.Errorf("id %q, want %q", got.ID, want.ID)
	case got.Type != want.Type || got.Schema != want.Schema:
		return fmt.Errorf("%s: type %s v%d, want %s v%d", got.ID, got.Type, got.Schema, want.Type, want.Schema)
	case got.Aggregate != want.Aggregate:
		return fmt.Errorf("%s: aggregate %s, want %s", got.ID, got.Aggregate, want.Aggregate)
	case got.Actor != want.Actor:
		return fmt.Errorf("%s: actor %v, want %v", got.ID, got.Actor, want.Actor)
	case !got.Time.Equal(want.Time):
		return fmt.Errorf("%s: time %s, want %s", got.ID, got.Time, want.Time)
	case !sameJSON(got.Data, want.Data):
		return fmt.Errorf("%s: data %s, want %s", got.ID, got.Data, want.Data)
	}
	return nil
}

func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

func ids(es []events.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func read(t *testing.T, l events.Log, ref events.Ref) []events.Event {
	t.Helper()
	es, err := l.Read(t.Context(), ref)
	if err != nil {
		t.Fatalf("Read(%s): %v", ref, err)
	}
	return es
}

func lastSeq(t *testing.T, l events.Log, s events.Stream) uint64 {
	t.Helper()
	seq, err := l.LastSeq(t.Context(), s)
	if err != nil {
		t.Fatalf("LastSeq(%s): %v", s, err)
	}
	return seq
}

// wantUnchanged checks that the streams still end where they did.
func wantUnchanged(t *testing.T, l events.Log, before map[events.Stream]uint64) {
	t.Helper()
	for s, seq := range before {
		if got := lastSeq(t, l, s); got != seq {
			t.Fatalf("LastSeq(%s) = %d after a failed append, want %d (something was written)", s, got, seq)
		}
	}
}

func lastSeqs(t *testing.T, l events.Log) map[events.Stream]uint64 {
	t.Helper()
	out := map[events.Stream]uint64{}
	for _, s := range events.Streams {
		out[s] = lastSeq(t, l, s)
	}
	return out
}

func testAppendAndRead(t *testing.T, l events.Log) {
	a, b := appRef("acme"), appRef("acme")
	a1, b1, a2, a3 := event(t, a), event(t, b), event(t, a), event(t, a)

	r1 := mustAppend(t, l, events.Append{Events: []events.Event{a1}, Expect: []events.Expect{{Ref: a, Seq: 0}}})
	rb := mustAppend(t, l, events.Append{Events: []events.Event{b1}})
	r23 := mustAppend(t, l, events.Append{Events: []events.Event{a2, a3}, Expect: []events.Expect{{Ref: a, Seq: r1.Last()}}})
	if !(r1.Last() < rb.Last() && rb.Last() < r23.Seqs[0]) {
		t.Fatalf("sequences %v %v %v do not follow the order of the appends", r1.Seqs, rb.Seqs, r23.Seqs)
	}

	got := read(t, l, a)
	wantEvents(t, "Read(a)", got, []events.Event{a1, a2, a3}, append(r1.Seqs, r23.Seqs...))
	wantEvents(t, "Read(b)", read(t, l, b), []events.Event{b1}, rb.Seqs)

	p, err := events.Decode(got[1])
	if err != nil {
		t.Fatalf("Decode(read event): %v", err)
	}
	want, _ := events.Decode(a2)
	if *p.(*events.AppUpdated).Name != *want.(*events.AppUpdated).Name {
		t.Fatalf("read payload %+v, want %+v", p, want)
	}

	tok := tokenRef("acme")
	t1 := event(t, tok)
	rt := mustAppend(t, l, events.Append{Events: []events.Event{t1}, Expect: []events.Expect{{Ref: tok, Seq: 0}}})
	wantEvents(t, "Read(token)", read(t, l, tok), []events.Event{t1}, rt.Seqs)
}

func testReadNotFound(t *testing.T, l events.Log) {
	known := appRef("acme")
	appendOne(t, l, event(t, known))
	for _, ref := range []events.Ref{
		appRef("acme"),   // same tenant and type, unknown id
		appRef("globex"), // another tenant
		tokenRef("acme"), // the other stream
		{Tenant: "acme", Type: events.AggTenant, ID: known.ID}, // same id, other type
		{Tenant: "globex", Type: events.AggApp, ID: known.ID},  // same id, other tenant
	} {
		_, err := l.Read(t.Context(), ref)
		wantErr(t, fmt.Sprintf("Read(%s)", ref), err, events.ErrNotFound)
	}
}

func testExpectNewAggregate(t *testing.T, l events.Log) {
	for _, ref := range []events.Ref{appRef("acme"), tokenRef("acme")} {
		e1, e2 := event(t, ref), event(t, ref)
		r := mustAppend(t, l, events.Append{Events: []events.Event{e1}, Expect: []events.Expect{{Ref: ref, Seq: 0}}})
		_, err := l.Append(t.Context(), events.Append{Events: []events.Event{e2}, Expect: []events.Expect{{Ref: ref, Seq: 0}}})
		wantErr(t, "second append expecting a new aggregate", err, events.ErrVersionConflict)
		wantEvents(t, "Read", read(t, l, ref), []events.Event{e1}, r.Seqs)
	}
}

func testVersionConflict(t *testing.T, l events.Log) {
	ref, other := appRef("acme"), appRef("acme")
	e1, e2 := event(t, ref), event(t, ref)
	s1 := appendOne(t, l, e1)[0]
	s2 := mustAppend(t, l, events.Append{Events: []events.Event{e2}, Expect: []events.Expect{{Ref: ref, Seq: s1}}}).Last()
	// Another aggregate moves the stream on: only ref's own version counts.
	appendOne(t, l, event(t, other))
	before := lastSeqs(t, l)

	for _, stale := range []uint64{0, s1, s2 + 1, s2 + 100} {
		a := events.Append{Events: []events.Event{event(t, ref)}, Expect: []events.Expect{{Ref: ref, Seq: stale}}}
		_, err := l.Append(t.Context(), a)
		wantErr(t, fmt.Sprintf("append at version %d (current %d)", stale, s2), err, events.ErrVersionConflict)
	}
	wantUnchanged(t, l, before)
	wantEvents(t, "Read after conflicts", read(t, l, ref), []events.Event{e1, e2}, []uint64{s1, s2})

	e3 := event(t, ref)
	r3 := mustAppend(t, l, events.Append{Events: []events.Event{e3}, Expect: []events.Expect{{Ref: ref, Seq: s2}}})
	wantEvents(t, "Read after the right version", read(t, l, ref), []events.Event{e1, e2, e3}, []uint64{s1, s2, r3.Last()})
}

// testConcurrentAppends races Concurrency appenders at one expected
// version: exactly one wins, every other one gets ErrVersionConflict.
func testConcurrentAppends(t *testing.T, l events.Log) {
	for _, c := range []struct {
		name   string
		exists bool // the aggregate has an event before the race
		batch  bool // each appender also writes an aggregate of its own
		ref    func(string) events.Ref
	}{
		{name: "single", exists: true, ref: appRef},
		{name: "new-aggregate", ref: appRef},
		{name: "high-volume", exists: true, ref: tokenRef},
		{name: "batch", exists: true, batch: true, ref: appRef},
	} {
		t.Run(c.name, func(t *testing.T) {
			ref := c.ref("acme")
			var before []events.Event
			var version uint64
			if c.exists {
				before = []events.Event{event(t, ref)}
				version = appendOne(t, l, before...)[0]
			}
			winner, own := race(t, l, ref, version, c.batch)
			got := read(t, l, ref)
			if len(got) != len(before)+1 || got[len(got)-1].ID != winner.Events[0].ID {
				t.Fatalf("Read(%s) = %v, want %v then the winner %s", ref, ids(got), ids(before), winner.Events[0].ID)
			}
			for _, o := range own {
				_, err := l.Read(t.Context(), o)
				if o == winner.Events[len(winner.Events)-1].Aggregate {
					if err != nil {
						t.Fatalf("Read(winner's own %s): %v", o, err)
					}
					continue
				}
				wantErr(t, fmt.Sprintf("Read(loser's own %s)", o), err, events.ErrNotFound)
			}
		})
	}
}

// race appends Concurrency appends at version at once and returns the one
// that won and the aggregates of their own the batches wrote.
func race(t *testing.T, l events.Log, ref events.Ref, version uint64, batch bool) (events.Append, []events.Ref) {
	t.Helper()
	appends := make([]events.Append, Concurrency)
	var own []events.Ref
	for i := range appends {
		a := events.Append{Events: []events.Event{event(t, ref)}, Expect: []events.Expect{{Ref: ref, Seq: version}}}
		if batch {
			o := appRef("acme")
			own = append(own, o)
			a.Events = append(a.Events, event(t, o))
		}
		appends[i] = a
	}
	errs := make([]error, len(appends))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, a := range appends {
		wg.Go(func() {
			<-start
			_, errs[i] = l.Append(t.Context(), a)
		})
	}
	close(start)
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("appenders %d and %d both won at version %d", won, i, version)
		case err == nil:
			won = i
		case !errors.Is(err, events.ErrVersionConflict):
			t.Fatalf("appender %d: %v, want nil or %v", i, err, events.ErrVersionConflict)
		}
	}
	if won < 0 {
		t.Fatalf("none of %d appenders at version %d won", len(appends), version)
	}
	return appends[won], own
}

func testAtomicBatch(t *testing.T, l events.Log) {
	a, b, c := appRef("acme"), appRef("acme"), appRef("globex")
	a1, b1, a2, c1 := event(t, a), event(t, b), event(t, a), event(t, c)
	r := mustAppend(t, l, events.Append{
		Events: []events.Event{a1, b1, a2, c1},
		Expect: []events.Expect{{Ref: a, Seq: 0}, {Ref: b, Seq: 0}},
	})
	wantEvents(t, "Read(a)", read(t, l, a), []events.Event{a1, a2}, []uint64{r.Seqs[0], r.Seqs[2]})
	wantEvents(t, "Read(b)", read(t, l, b), []events.Event{b1}, []uint64{r.Seqs[1]})
	wantEvents(t, "Read(c)", read(t, l, c), []events.Event{c1}, []uint64{r.Seqs[3]})
	if got := lastSeq(t, l, events.Control); got != r.Last() {
		t.Fatalf("LastSeq = %d after a batch ending at %d", got, r.Last())
	}

	// A batch of the high-volume stream: many token mints in one append.
	var toks []events.Event
	var expect []events.Expect
	for range 10 {
		ref := tokenRef("acme")
		toks = append(toks, event(t, ref))
		expect = append(expect, events.Expect{Ref: ref, Seq: 0})
	}
	rt := mustAppend(t, l, events.Append{Events: toks, Expect: expect})
	for i, e := range toks {
		wantEvents(t, "Read(token)", read(t, l, e.Aggregate), []events.Event{e}, rt.Seqs[i:i+1])
	}
}

// testAtomicBatchAllOrNothing fails one expectation of a batch, at each
// position, and checks that nothing of the batch can be read or followed.
func testAtomicBatchAllOrNothing(t *testing.T, l events.Log) {
	old := appRef("acme")
	old1, old2 := event(t, old), event(t, old)
	seqs := appendOne(t, l, old1)
	seqs = append(seqs, appendOne(t, l, old2)...)
	f := startFollow(t, l, events.Control, lastSeq(t, l, events.Control))

	for pos := range 3 {
		before := lastSeqs(t, l)
		fresh1, fresh2 := appRef("acme"), appRef("globex")
		batch := []events.Event{event(t, fresh1), event(t, fresh2), event(t, fresh1)}
		batch = append(batch[:pos], append([]events.Event{event(t, old)}, batch[pos:]...)...)
		_, err := l.Append(t.Context(), events.Append{
			Events: batch,
			// old's version is stale (seqs[0], not seqs[1]); the new ones are right.
			Expect: []events.Expect{{Ref: fresh1, Seq: 0}, {Ref: old, Seq: seqs[0]}, {Ref: fresh2, Seq: 0}},
		})
		wantErr(t, fmt.Sprintf("batch failing at event %d", pos), err, events.ErrVersionConflict)
		wantUnchanged(t, l, before)
		for _, ref := range []events.Ref{fresh1, fresh2} {
			_, err := l.Read(t.Context(), ref)
			wantErr(t, fmt.Sprintf("Read(%s) of a failed batch", ref), err, events.ErrNotFound)
		}
		wantEvents(t, "Read(old)", read(t, l, old), []events.Event{old1, old2}, seqs)
	}

	// The follower sees the next successful append, and nothing before it.
	marker := event(t, appRef("acme"))
	ms := appendOne(t, l, marker)
	if got := f.next(t); got.ID != marker.ID || got.Seq != ms[0] {
		t.Fatalf("follower got %s at %d after failed batches, want the marker %s at %d", got.ID, got.Seq, marker.ID, ms[0])
	}
}

func testDedupe(t *testing.T, l events.Log) {
	for _, c := range []struct {
		name   string
		batch  bool
		expect bool
		ref    func(string) events.Ref
	}{
		{name: "single", ref: appRef},
		{name: "single-expect", expect: true, ref: appRef},
		{name: "single-high-volume", expect: true, ref: tokenRef},
		{name: "batch", batch: true, ref: appRef},
		{name: "batch-expect", batch: true, expect: true, ref: appRef},
		{name: "batch-high-volume", batch: true, expect: true, ref: tokenRef},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := events.NewID("cmd")
			attempt := func() (events.Append, []events.Ref) {
				// A retried command decides again: new event ids, same DedupeID.
				refs := []events.Ref{c.ref("acme")}
				if c.batch {
					refs = append(refs, c.ref("acme"), refs[0])
				}
				a := events.Append{DedupeID: id}
				for _, r := range refs {
					a.Events = append(a.Events, event(t, r))
				}
				if c.expect {
					a.Expect = []events.Expect{{Ref: refs[0], Seq: 0}}
				}
				return a, refs
			}
			first, refs := attempt()
			r1 := mustAppend(t, l, first)
			before := lastSeqs(t, l)

			// The retry writes the same aggregates (a retry of the same
			// command), and a retry on other aggregates is still a duplicate.
			retry := first
			retry.Events = append([]events.Event(nil), first.Events...)
			for i := range retry.Events {
				retry.Events[i] = event(t, retry.Events[i].Aggregate)
			}
			r2, err := l.Append(t.Context(), retry)
			if err != nil {
				t.Fatalf("retried append: %v", err)
			}
			if !r2.Duplicate || !slices.Equal(r2.Seqs, r1.Seqs) || r2.Stream != r1.Stream {
				t.Fatalf("retried append = %+v, want Duplicate at %s %v", r2, r1.Stream, r1.Seqs)
			}
			other, _ := attempt()
			r3, err := l.Append(t.Context(), other)
			if err != nil {
				t.Fatalf("append on other aggregates with the same DedupeID: %v", err)
			}
			if !r3.Duplicate || r3.Last() != r1.Last() || r3.Stream != r1.Stream {
				t.Fatalf("append on other aggregates with the same DedupeID = %+v, want Duplicate at %s %d", r3, r1.Stream, r1.Last())
			}
			wantUnchanged(t, l, before)
			byRef := map[events.Ref][]events.Event{}
			seqs := map[events.Ref][]uint64{}
			for i, e := range first.Events {
				byRef[e.Aggregate] = append(byRef[e.Aggregate], e)
				seqs[e.Aggregate] = append(seqs[e.Aggregate], r1.Seqs[i])
			}
			for _, ref := range refs {
				wantEvents(t, "Read after a duplicate", read(t, l, ref), byRef[ref], seqs[ref])
			}

			// Another DedupeID is another append.
			next, _ := attempt()
			next.DedupeID = events.NewID("cmd")
			next.Expect = nil
			mustAppend(t, l, next)
		})
	}
}

func testFollow(t *testing.T, l events.Log) {
	var all []events.Event
	var seqs []uint64
	add := func(es ...events.Event) {
		all = append(all, es...)
		seqs = append(seqs, appendOne(t, l, es...)...)
	}
	a, b := appRef("acme"), appRef("globex")
	add(event(t, a))
	add(event(t, b), event(t, a))
	add(event(t, appRef("acme")))
	add(event(t, b))
	// Events of the other stream never show in this one's Follow.
	appendOne(t, l, event(t, tokenRef("acme")))

	from := []struct {
		name  string
		after uint64
		skip  int // events of all that precede after
	}{
		{"start", 0, 0},
		{"middle", seqs[2], 3},
		{"end", seqs[len(seqs)-1], len(seqs)},
	}
	followers := make([]*follower, len(from))
	for i, c := range from {
		followers[i] = startFollow(t, l, events.Control, c.after)
	}
	for i, c := range from {
		f := followers[i]
		got := f.take(t, len(all)-c.skip)
		wantEvents(t, "Follow from "+c.name, got, all[c.skip:], seqs[c.skip:])
		if c.skip < len(all) && got[len(got)-1].Pending != 0 {
			t.Fatalf("Follow from %s: last event of the catch-up has Pending %d, want 0", c.name, got[len(got)-1].Pending)
		}
		if len(got) > 1 && got[0].Pending == 0 {
			t.Fatalf("Follow from %s: first of %d events has Pending 0", c.name, len(got))
		}
	}

	// New appends keep coming, to every follower, in order.
	n := len(all)
	add(event(t, a))
	add(event(t, appRef("acme")), event(t, b), event(t, a))
	for i, c := range from {
		wantEvents(t, "Follow from "+c.name+", new events", followers[i].take(t, len(all)-n), all[n:], seqs[n:])
	}

	hv := startFollow(t, l, events.HighVolume, 0)
	tok := event(t, tokenRef("acme"))
	ts := appendOne(t, l, tok)
	if got := hv.take(t, 2); got[1].ID != tok.ID || got[1].Seq != ts[0] || got[1].Stream != events.HighVolume {
		t.Fatalf("Follow(high-volume) = %v, want the second to be %s at %d", ids(got), tok.ID, ts[0])
	}
}

func testFollowStops(t *testing.T, l events.Log) {
	for range 3 {
		appendOne(t, l, event(t, appRef("acme")))
	}
	t.Run("handler-error", func(t *testing.T) {
		stop := errors.New("enough")
		var calls atomic.Int32
		err := withDeadline(t, func(ctx context.Context) error {
			return l.Follow(ctx, events.Control, 0, func(context.Context, events.Event) error {
				if calls.Add(1) == 2 {
					return stop
				}
				return nil
			})
		})
		if !errors.Is(err, stop) || calls.Load() != 2 {
			t.Fatalf("Follow = %v after %d calls, want the handler's error after 2", err, calls.Load())
		}
	})
	t.Run("context-cancelled", func(t *testing.T) {
		f := startFollow(t, l, events.Control, 0)
		f.take(t, 3)
		wantErr(t, "Follow after cancel", f.stop(t), context.Canceled)
	})
}

func testMixedStreams(t *testing.T, l events.Log) {
	app, tok := appRef("acme"), tokenRef("acme")
	for _, es := range [][]events.Event{
		{event(t, app), event(t, tok)},
		{event(t, tok), event(t, app)},
		{event(t, app), event(t, app), event(t, tok)},
	} {
		_, err := l.Append(t.Context(), events.Append{Events: es})
		wantErr(t, "append mixing streams", err, events.ErrInvalid)
	}
	wantUnchanged(t, l, map[events.Stream]uint64{events.Control: 0, events.HighVolume: 0})
	for _, ref := range []events.Ref{app, tok} {
		_, err := l.Read(t.Context(), ref)
		wantErr(t, "Read after a refused append", err, events.ErrNotFound)
	}
}

func testInvalid(t *testing.T, l events.Log) {
	good := appRef("acme")
	long := strings.Repeat("x", 129)
	bad := []events.Ref{
		{Tenant: "ac.me", Type: events.AggApp, ID: "app_1"},
		{Tenant: "acme*", Type: events.AggApp, ID: "app_1"},
		{Tenant: "acme>", Type: events.AggApp, ID: "app_1"},
		{Tenant: "ac me", Type: events.AggApp, ID: "app_1"},
		{Tenant: "", Type: events.AggApp, ID: "app_1"},
		{Tenant: long, Type: events.AggApp, ID: "app_1"},
		{Tenant: "acme", Type: "", ID: "app_1"},
		{Tenant: "acme", Type: "ap.p", ID: "app_1"},
		{Tenant: "acme", Type: events.AggApp, ID: ""},
		{Tenant: "acme", Type: events.AggApp, ID: "app.1"},
		{Tenant: "acme", Type: events.AggApp, ID: "app\t1"},
		{Tenant: "acme", Type: events.AggApp, ID: "app\n1"},
		{Tenant: "acme", Type: events.AggToken, ID: ">"},
	}
	for _, ref := range bad {
		e := event(t, good)
		e.Aggregate = ref
		for _, a := range []events.Append{
			{Events: []events.Event{e}},
			{Events: []events.Event{event(t, good), e}},
			{Events: []events.Event{event(t, good)}, Expect: []events.Expect{{Ref: good, Seq: 0}, {Ref: ref, Seq: 0}}},
		} {
			_, err := l.Append(t.Context(), a)
			wantErr(t, fmt.Sprintf("Append(%q)", ref.String()), err, events.ErrInvalid)
		}
		_, err := l.Read(t.Context(), ref)
		wantErr(t, fmt.Sprintf("Read(%q)", ref.String()), err, events.ErrInvalid)
		_, err = events.New(ref, actor, t0, events.AppDeleted{ClientID: "c"})
		wantErr(t, fmt.Sprintf("events.New(%q)", ref.String()), err, events.ErrInvalid)
	}

	noID := event(t, good)
	noID.ID = ""
	noType := event(t, good)
	noType.Type = ""
	for name, a := range map[string]events.Append{
		"empty":              {},
		"event without id":   {Events: []events.Event{noID}},
		"event without type": {Events: []events.Event{noType}},
		"expectation on an aggregate it does not write": {Events: []events.Event{event(t, good)}, Expect: []events.Expect{{Ref: appRef("acme"), Seq: 0}}},
	} {
		_, err := l.Append(t.Context(), a)
		wantErr(t, "Append("+name+")", err, events.ErrInvalid)
	}
	wantUnchanged(t, l, map[events.Stream]uint64{events.Control: 0, events.HighVolume: 0})
}

func testLastSeq(t *testing.T, l events.Log) {
	wantUnchanged(t, l, map[events.Stream]uint64{events.Control: 0, events.HighVolume: 0})
	rc := appendOne(t, l, event(t, appRef("acme")), event(t, appRef("acme")))
	if got := lastSeq(t, l, events.Control); got != rc[1] {
		t.Fatalf("LastSeq(control) = %d, want %d", got, rc[1])
	}
	if got := lastSeq(t, l, events.HighVolume); got != 0 {
		t.Fatalf("LastSeq(high-volume) = %d after control appends only, want 0", got)
	}
	rh := appendOne(t, l, event(t, tokenRef("acme")))
	if got := lastSeq(t, l, events.HighVolume); got != rh[0] {
		t.Fatalf("LastSeq(high-volume) = %d, want %d", got, rh[0])
	}
	if got := lastSeq(t, l, events.Control); got != rc[1] {
		t.Fatalf("LastSeq(control) = %d after a high-volume append, want still %d", got, rc[1])
	}
}

// follower is a Follow running in the background, feeding a channel.
type follower struct {
	events chan events.Event
	done   chan struct{} // closed when Follow has returned err
	err    error
	cancel context.CancelFunc
}

// startFollow follows s after the given sequence until the test ends.
func startFollow(t *testing.T, l events.Log, s events.Stream, after uint64) *follower {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	f := &follower{events: make(chan events.Event, 1024), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(f.done)
		f.err = l.Follow(ctx, s, after, func(ctx context.Context, e events.Event) error {
			select {
			case f.events <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-f.done
	})
	return f
}

// next returns the next followed event, failing the test if none comes
// within Wait or the Follow ends.
func (f *follower) next(t *testing.T) events.Event {
	t.Helper()
	select {
	case e := <-f.events:
		return e
	case <-f.done:
		t.Fatalf("Follow ended early: %v", f.err)
	case <-time.After(Wait):
		t.Fatalf("no event followed within %s", Wait)
	}
	return events.Event{}
}

// stop cancels the Follow and returns its error, failing the test if it
// does not return within Wait.
func (f *follower) stop(t *testing.T) error {
	t.Helper()
	f.cancel()
	select {
	case <-f.done:
		return f.err
	case <-time.After(Wait):
		t.Fatalf("Follow did not return within %s of its context's end", Wait)
	}
	return nil
}

// take returns the next n followed events.
func (f *follower) take(t *testing.T, n int) []events.Event {
	t.Helper()
	out := make([]events.Event, 0, n)
	for range n {
		out = append(out, f.next(t))
	}
	return out
}

// withDeadline runs f with a context that ends after Wait, failing the test
// if f outlives it.
func withDeadline(t *testing.T, f func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), Wait)
	defer cancel()
	err := f(ctx)
	if ctx.Err() != nil {
		t.Fatalf("still running after %s: %v", Wait, err)
	}
	return err
}

// packer returns l's AppendPacked, skipping the test when l has none.
func packer(t *testing.T, l events.Log) events.Packer {
	t.Helper()
	p, ok := l.(events.Packer)
	if !ok {
		t.Skipf("%T does not implement events.Packer", l)
	}
	return p
}

// mustPack appends evs packed and checks the result's shape: the
// high-volume stream, one sequence per event, never decreasing.
func mustPack(t *testing.T, p events.Packer, evs []events.Event) events.Result {
	t.Helper()
	r, err := p.AppendPacked(t.Context(), evs)
	if err != nil {
		t.Fatalf("AppendPacked(%d events): %v", len(evs), err)
	}
	if len(r.Seqs) != len(evs) || r.Stream != events.HighVolume || r.Duplicate {
		t.Fatalf("AppendPacked(%d events) = %+v, want %d sequences of %s", len(evs), r, len(evs), events.HighVolume)
	}
	for i := 1; i < len(r.Seqs); i++ {
		if r.Seqs[i] < r.Seqs[i-1] {
			t.Fatalf("AppendPacked: sequences %v decrease", r.Seqs)
		}
	}
	return r
}

// wantMore checks the More flags of followed events: set exactly when the
// next event shares the sequence (the last one given has none after it).
func wantMore(t *testing.T, what string, got []events.Event) {
	t.Helper()
	for i, e := range got {
		more := i+1 < len(got) && got[i+1].Seq == e.Seq
		if e.More != more {
			t.Fatalf("%s: event %d (%s at %d) has More %v, want %v", what, i, e.ID, e.Seq, e.More, more)
		}
	}
}

// testPacked packs events between two plain appends and follows them: one
// sequence for the message, More on all its events but the last, in order;
// they are not in their aggregates' Read history.
func testPacked(t *testing.T, l events.Log) {
	p := packer(t, l)
	live := startFollow(t, l, events.HighVolume, 0)
	first := event(t, tokenRef("acme"))
	fs := appendOne(t, l, first)

	shared := tokenRef("acme")
	packed := []events.Event{event(t, shared), event(t, tokenRef("globex")), event(t, shared)}
	r := mustPack(t, p, packed)
	if r.Seqs[0] != r.Seqs[2] || r.Seqs[0] <= fs[0] {
		t.Fatalf("AppendPacked(3 events) at %v after an append at %d, want one sequence above it", r.Seqs, fs[0])
	}
	if got := lastSeq(t, l, events.HighVolume); got != r.Last() {
		t.Fatalf("LastSeq(high-volume) = %d after a packed append at %d", got, r.Last())
	}
	if got := lastSeq(t, l, events.Control); got != 0 {
		t.Fatalf("LastSeq(control) = %d after high-volume appends only", got)
	}
	last := event(t, tokenRef("acme"))
	ls := appendOne(t, l, last)
	if ls[0] != r.Last()+1 {
		t.Fatalf("append after a packed message at %d, want %d (one message)", ls[0], r.Last()+1)
	}

	all := append(append([]events.Event{first}, packed...), last)
	seqs := append(append(fs, r.Seqs...), ls...)
	got := live.take(t, len(all))
	wantEvents(t, "Follow (live)", got, all, seqs)
	wantMore(t, "Follow (live)", got)

	// Catching up: Pending counts the messages after the event's own.
	got = startFollow(t, l, events.HighVolume, 0).take(t, len(all))
	wantEvents(t, "Follow (catch-up)", got, all, seqs)
	wantMore(t, "Follow (catch-up)", got)
	for i, want := range []uint64{2, 1, 1, 1, 0} {
		if got[i].Pending != want {
			t.Fatalf("Follow (catch-up): event %d (%s at %d) has Pending %d, want %d", i, got[i].ID, got[i].Seq, got[i].Pending, want)
		}
	}

	// A Follow after the message's sequence skips all of it; one just
	// before it gets all of it.
	got = startFollow(t, l, events.HighVolume, r.Last()-1).take(t, len(packed)+1)
	wantEvents(t, "Follow from before the packed message", got, all[1:], seqs[1:])
	wantMore(t, "Follow from before the packed message", got)
	if got := startFollow(t, l, events.HighVolume, r.Last()).next(t); got.ID != last.ID || got.More {
		t.Fatalf("Follow after the packed message's sequence: first event %s (More %v), want %s", got.ID, got.More, last.ID)
	}

	// Packed events are not on their aggregates' subjects: not in their
	// history, not their version.
	for _, e := range packed {
		_, err := l.Read(t.Context(), e.Aggregate)
		wantErr(t, fmt.Sprintf("Read(%s), written packed only", e.Aggregate), err, events.ErrNotFound)
	}
	own := event(t, shared)
	ro := mustAppend(t, l, events.Append{Events: []events.Event{own}, Expect: []events.Expect{{Ref: shared, Seq: 0}}})
	wantEvents(t, "Read after packed and appended events", read(t, l, shared), []events.Event{own}, ro.Seqs)
}

// testPackedSplit packs more than one message holds (several megabytes):
// every event is written once, in order, in messages that Follow expands.
func testPackedSplit(t *testing.T, l events.Log) {
	p := packer(t, l)
	scopes := make([]string, 2000)
	for i := range scopes {
		scopes[i] = fmt.Sprintf("scope:%04d:%s", i, strings.Repeat("x", 40))
	}
	var evs []events.Event
	for range 40 { // about 110 kB each
		ref := tokenRef("acme")
		e, err := events.New(ref, actor, t0, events.TokenMinted{JTI: ref.ID, AppID: "app_x", ClientID: "client_x",
			Subject: "user_1", GrantType: "client_credentials", Scopes: scopes, ExpiresAt: t0.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	r := mustPack(t, p, evs)
	if r.Seqs[0] == r.Last() {
		t.Fatalf("%d events of 110 kB packed into one message at %d", len(evs), r.Last())
	}
	if got := lastSeq(t, l, events.HighVolume); got != r.Last() {
		t.Fatalf("LastSeq = %d after a packed append ending at %d", got, r.Last())
	}
	got := startFollow(t, l, events.HighVolume, 0).take(t, len(evs))
	wantEvents(t, "Follow", got, evs, r.Seqs)
	wantMore(t, "Follow", got)
	if got[len(got)-1].Pending != 0 {
		t.Fatalf("last event has Pending %d, want 0", got[len(got)-1].Pending)
	}
}

// testPackedInvalid: packed appends the log must refuse whole.
func testPackedInvalid(t *testing.T, l events.Log) {
	p := packer(t, l)
	noID := event(t, tokenRef("acme"))
	noID.ID = ""
	badRef := event(t, tokenRef("acme"))
	badRef.Aggregate.ID = "tok.1"
	for name, evs := range map[string][]events.Event{
		"empty":                   nil,
		"a control-plane event":   {event(t, appRef("acme"))},
		"mixed streams":           {event(t, tokenRef("acme")), event(t, appRef("acme"))},
		"an event without id":     {event(t, tokenRef("acme")), noID},
		"an invalid aggregate id": {event(t, tokenRef("acme")), badRef},
	} {
		_, err := p.AppendPacked(t.Context(), evs)
		wantErr(t, "AppendPacked("+name+")", err, events.ErrInvalid)
	}
	wantUnchanged(t, l, map[events.Stream]uint64{events.Control: 0, events.HighVolume: 0})
}
