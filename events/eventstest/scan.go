package eventstest

import (
	"fmt"
	"math"
	"testing"

	"github.com/gatehouse/gatehouse/events"
)

// This file holds the cases of events.Scanner (the audit feed's read of
// one tenant): they run when the log implements it, the packed ones when
// it also implements events.Packer.

// scanner returns l's Scan, skipping the test when l has none.
func scanner(t *testing.T, l events.Log) events.Scanner {
	t.Helper()
	s, ok := l.(events.Scanner)
	if !ok {
		t.Skipf("%T does not implement events.Scanner", l)
	}
	return s
}

// scanPage is one Scan, failing the test on an error or on a page that
// breaks the contract's shape: only tenant's events of stream st, oldest
// first, after after, More unset, next at least the last event's sequence
// and equal to after when the page is empty.
func scanPage(t *testing.T, sc events.Scanner, st events.Stream, tenant string, after uint64, limit, maxScan int) ([]events.Event, uint64) {
	t.Helper()
	evs, next, err := sc.Scan(t.Context(), st, tenant, after, limit, maxScan)
	if err != nil {
		t.Fatalf("Scan(%s, %s, after %d, limit %d, maxScan %d): %v", st, tenant, after, limit, maxScan, err)
	}
	what := fmt.Sprintf("Scan(%s, %s, after %d, limit %d, maxScan %d)", st, tenant, after, limit, maxScan)
	for i, e := range evs {
		switch {
		case e.Tenant() != tenant:
			t.Fatalf("%s: event %s of tenant %s", what, e.ID, e.Tenant())
		case e.Stream != st:
			t.Fatalf("%s: event %s of stream %s", what, e.ID, e.Stream)
		case e.Seq <= after:
			t.Fatalf("%s: event %s at %d, not after %d", what, e.ID, e.Seq, after)
		case i > 0 && e.Seq < evs[i-1].Seq:
			t.Fatalf("%s: sequences %d then %d", what, evs[i-1].Seq, e.Seq)
		case e.More:
			t.Fatalf("%s: event %s has More set", what, e.ID)
		}
	}
	if len(evs) > limit && evs[limit].Seq != evs[limit-1].Seq {
		t.Fatalf("%s: %d events, more than the limit and not of one packed message", what, len(evs))
	}
	switch {
	case len(evs) == 0 && next < after:
		t.Fatalf("%s: an empty page with next %d", what, next)
	case len(evs) > 0 && next < evs[len(evs)-1].Seq:
		t.Fatalf("%s: next %d before the last event's sequence %d", what, next, evs[len(evs)-1].Seq)
	}
	return evs, next
}

// scanAll pages through tenant's events of st by next, limit at a time,
// until a page is empty; that page must leave next where it was.
func scanAll(t *testing.T, sc events.Scanner, st events.Stream, tenant string, limit int) []events.Event {
	t.Helper()
	var all []events.Event
	after := uint64(0)
	for range 1000 {
		evs, next := scanPage(t, sc, st, tenant, after, limit, 1000)
		if len(evs) == 0 {
			if next != after {
				t.Fatalf("Scan(%s, %s) at the end moved next from %d to %d", st, tenant, after, next)
			}
			return all
		}
		all = append(all, evs...)
		after = next
	}
	t.Fatalf("Scan(%s, %s): no end after 1000 pages", st, tenant)
	return nil
}

// testScanTenants interleaves three tenants (one named like another's
// prefix) on both streams: paging by next with any limit gives each tenant
// exactly its own events of each stream, in order, at their sequences, and
// next resumes right after the last event given.
func testScanTenants(t *testing.T, l events.Log) {
	sc := scanner(t, l)
	tenants := []string{"acme", "globex", "acmex"}
	want := map[string][]events.Event{}
	seqs := map[string][]uint64{}
	for i := range 7 {
		for _, tenant := range tenants {
			ref := appRef(tenant)
			if i%2 == 1 {
				ref = tokenRef(tenant)
			}
			e := event(t, ref)
			key := tenant + "/" + string(events.StreamOf(ref.Type))
			want[key] = append(want[key], e)
			seqs[key] = append(seqs[key], appendOne(t, l, e)[0])
		}
	}
	for _, tenant := range tenants {
		for _, st := range events.Streams {
			key := tenant + "/" + string(st)
			for _, limit := range []int{1, 3, 500} {
				got := scanAll(t, sc, st, tenant, limit)
				wantEvents(t, fmt.Sprintf("Scan(%s) by %d", key, limit), got, want[key], seqs[key])
			}
		}
	}
	page, next := scanPage(t, sc, events.Control, "acme", 0, 2, 1000)
	if len(page) != 2 || next != page[1].Seq {
		t.Fatalf("Scan(control, acme, limit 2) = %v next %d, want 2 events and next at the second's sequence", ids(page), next)
	}
	rest := want["acme/control"][2:]
	got, _ := scanPage(t, sc, events.Control, "acme", next, 500, 1000)
	wantEvents(t, "Scan(control, acme) after the first page", got, rest, seqs["acme/control"][2:])
}

// testScanPacked: packed messages mixing tenants give each tenant its own
// events of them, whole (a limit never splits a message's events), at the
// message's sequence; a packed message without the tenant's events is
// passed over.
func testScanPacked(t *testing.T, l events.Log) {
	sc, p := scanner(t, l), packer(t, l)
	first := event(t, tokenRef("acme"))
	fs := appendOne(t, l, first)
	mixed := []events.Event{event(t, tokenRef("globex")), event(t, tokenRef("acme")), event(t, tokenRef("globex")),
		event(t, tokenRef("acme")), event(t, tokenRef("acme"))}
	mr := mustPack(t, p, mixed)
	others := []events.Event{event(t, tokenRef("globex")), event(t, tokenRef("globex"))}
	or := mustPack(t, p, others)
	last := event(t, tokenRef("acme"))
	ls := appendOne(t, l, last)

	wantAcme := []events.Event{first, mixed[1], mixed[3], mixed[4], last}
	acmeSeqs := []uint64{fs[0], mr.Last(), mr.Last(), mr.Last(), ls[0]}
	for _, limit := range []int{1, 2, 500} {
		wantEvents(t, fmt.Sprintf("Scan(acme) by %d", limit), scanAll(t, sc, events.HighVolume, "acme", limit), wantAcme, acmeSeqs)
	}
	wantGlobex := []events.Event{mixed[0], mixed[2], others[0], others[1]}
	globexSeqs := []uint64{mr.Last(), mr.Last(), or.Last(), or.Last()}
	wantEvents(t, "Scan(globex) by 1", scanAll(t, sc, events.HighVolume, "globex", 1), wantGlobex, globexSeqs)

	// With limit 2 from the first event's sequence: the packed message's
	// three events of acme come together, and next is the message's.
	page, next := scanPage(t, sc, events.HighVolume, "acme", fs[0], 2, 1000)
	wantEvents(t, "Scan(acme, limit 2) at a packed message", page, wantAcme[1:4], acmeSeqs[1:4])
	if next != mr.Last() {
		t.Fatalf("Scan(acme, limit 2) at a packed message: next %d, want the message's %d", next, mr.Last())
	}
	// The control stream has no packed messages and nothing of these.
	if evs, next := scanPage(t, sc, events.Control, "acme", 0, 10, 10); len(evs) != 0 || next != 0 {
		t.Fatalf("Scan(control) after high-volume appends only = %v, next %d", ids(evs), next)
	}
}

// testScanMaxScan: maxScan bounds the messages a Scan looks at, so a page
// may hold fewer events than limit and next says where to go on; other
// tenants' messages on their own subjects are not looked at.
func testScanMaxScan(t *testing.T, l events.Log) {
	sc := scanner(t, l)
	var acme []events.Event
	var seqs []uint64
	for range 5 {
		e := event(t, appRef("acme"))
		acme = append(acme, e)
		seqs = append(seqs, appendOne(t, l, e)[0])
	}
	page, next := scanPage(t, sc, events.Control, "acme", 0, 100, 2)
	wantEvents(t, "Scan(acme, maxScan 2)", page, acme[:2], seqs[:2])
	if next != seqs[1] {
		t.Fatalf("Scan(acme, maxScan 2): next %d, want %d", next, seqs[1])
	}
	page, _ = scanPage(t, sc, events.Control, "acme", next, 100, 100)
	wantEvents(t, "Scan(acme) after a maxScan page", page, acme[2:], seqs[2:])

	// A sparse tenant: many messages of another tenant before its one
	// event; a Scan looking at one message finds it.
	for range 40 {
		appendOne(t, l, event(t, appRef("globex")))
	}
	sparse := event(t, appRef("initech"))
	ss := appendOne(t, l, sparse)
	page, next = scanPage(t, sc, events.Control, "initech", 0, 10, 1)
	wantEvents(t, "Scan(initech, maxScan 1) behind 40 messages of globex", page, []events.Event{sparse}, ss)
	if next != ss[0] {
		t.Fatalf("Scan(initech, maxScan 1): next %d, want %d", next, ss[0])
	}
}

// testScanPackedMaxScan: packed messages of other tenants do count
// towards maxScan (their events must be looked at to be told apart): a
// page may then be empty, and next moves past them.
func testScanPackedMaxScan(t *testing.T, l events.Log) {
	sc, p := scanner(t, l), packer(t, l)
	var seqs []uint64
	for range 3 {
		seqs = append(seqs, mustPack(t, p, []events.Event{event(t, tokenRef("globex"))}).Last())
	}
	mine := event(t, tokenRef("acme"))
	ms := appendOne(t, l, mine)
	page, next := scanPage(t, sc, events.HighVolume, "acme", 0, 10, 2)
	if len(page) != 0 || next != seqs[1] {
		t.Fatalf("Scan(acme, maxScan 2) over 3 packed messages of globex = %v, next %d; want none and next %d", ids(page), next, seqs[1])
	}
	page, _ = scanPage(t, sc, events.HighVolume, "acme", next, 10, 2)
	wantEvents(t, "Scan(acme) after the packed messages", page, []events.Event{mine}, ms)
}

// testScanEmpty: nothing to give is an empty page with next = after, on
// an empty stream, for a tenant without events, and past the end (the
// largest sequence included: nothing wraps around to the start).
func testScanEmpty(t *testing.T, l events.Log) {
	sc := scanner(t, l)
	for _, st := range events.Streams {
		if evs, next := scanPage(t, sc, st, "acme", 0, 10, 10); len(evs) != 0 || next != 0 {
			t.Fatalf("Scan(%s) of an empty log = %v, next %d", st, ids(evs), next)
		}
	}
	e := event(t, appRef("acme"))
	s := appendOne(t, l, e)[0]
	for _, c := range []struct {
		tenant string
		after  uint64
	}{{"globex", 0}, {"globex", s}, {"acme", s}, {"acme", s + 100}, {"acme", math.MaxUint64}} {
		if evs, next := scanPage(t, sc, events.Control, c.tenant, c.after, 10, 10); len(evs) != 0 || next != c.after {
			t.Fatalf("Scan(control, %s, after %d) = %v, next %d; want none and next %d", c.tenant, c.after, ids(evs), next, c.after)
		}
	}
}

// testScanInvalid: a tenant that is not one subject token, or a limit or
// maxScan below 1, is ErrInvalid.
func testScanInvalid(t *testing.T, l events.Log) {
	sc := scanner(t, l)
	appendOne(t, l, event(t, appRef("acme")))
	for _, c := range []struct {
		stream         events.Stream
		tenant         string
		limit, maxScan int
	}{
		{events.Control, "", 10, 10},
		{events.Control, "ac.me", 10, 10},
		{events.Control, "*", 10, 10},
		{events.Control, ">", 10, 10},
		{events.Control, "acme", 0, 10},
		{events.Control, "acme", 10, 0},
		{"nosuch", "acme", 10, 10},
	} {
		_, _, err := sc.Scan(t.Context(), c.stream, c.tenant, 0, c.limit, c.maxScan)
		wantErr(t, fmt.Sprintf("Scan(%q, %q, limit %d, maxScan %d)", c.stream, c.tenant, c.limit, c.maxScan), err, events.ErrInvalid)
	}
}
