package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/eventstest"
	"github.com/gatehouse/gatehouse/events/natstest"
)

// TestPackedMessageLayout checks how AppendPacked stores events: one
// message on prefix.evt._packed, header Gatehouse-Packed with the count,
// the body the JSON array of the envelopes.
func TestPackedMessageLayout(t *testing.T) {
	nc := natstest.Connect(t, natstest.Embedded(t))
	prefix := natstest.Prefix(t)
	l := openPrefix(t, nc, prefix)
	evs := tokenBatch(t, 3).Events
	r, err := l.AppendPacked(t.Context(), evs)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	str, err := js.Stream(t.Context(), l.StreamName(events.HighVolume))
	if err != nil {
		t.Fatal(err)
	}
	m, err := str.GetMsg(t.Context(), r.Last())
	if err != nil {
		t.Fatal(err)
	}
	if want := prefix + ".evt._packed"; m.Subject != want || l.PackedSubject() != want {
		t.Errorf("packed message on %q, PackedSubject() = %q; want %q", m.Subject, l.PackedSubject(), want)
	}
	if got := m.Header.Get("Gatehouse-Packed"); got != "3" {
		t.Errorf("header Gatehouse-Packed = %q, want 3", got)
	}
	var body []events.Event
	if err := json.Unmarshal(m.Data, &body); err != nil || len(body) != 3 {
		t.Fatalf("body %s: %v, want a JSON array of 3 envelopes", m.Data, err)
	}
	for i, e := range body {
		if e.ID != evs[i].ID || e.Aggregate != evs[i].Aggregate || e.Type != evs[i].Type {
			t.Errorf("envelope %d = %s %s %s, want %s %s %s", i, e.ID, e.Aggregate, e.Type, evs[i].ID, evs[i].Aggregate, evs[i].Type)
		}
	}
	if info, err := str.Info(t.Context()); err != nil || info.State.Msgs != 1 {
		t.Fatalf("stream holds %+v, %v; want one message", info.State, err)
	}
}

// TestPackedEventTooBig refuses an event no packed message can hold, and
// writes nothing of its append.
func TestPackedEventTooBig(t *testing.T) {
	l := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	big := tokenEvent(t, events.Ref{Tenant: "acme", Type: events.AggToken, ID: "tok_big"})
	big.Data = json.RawMessage(`{"pad":"` + strings.Repeat("x", 2<<20) + `"}`)
	_, err := l.AppendPacked(t.Context(), []events.Event{tokenBatch(t, 1).Events[0], big})
	if !errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), big.ID) {
		t.Fatalf("AppendPacked with a 2 MiB event: %v, want %v naming it", err, events.ErrInvalid)
	}
	if last, err := l.LastSeq(t.Context(), events.HighVolume); err != nil || last != 0 {
		t.Fatalf("LastSeq = %d, %v after a refused packed append", last, err)
	}
}

// TestFollowRefusesBadPackedMessage: a packed message whose count header
// does not match its body stops Follow with an error naming its sequence,
// instead of delivering a part of it.
func TestFollowRefusesBadPackedMessage(t *testing.T) {
	nc := natstest.Connect(t, natstest.Embedded(t))
	l := natstest.Open(t, nc)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(tokenBatch(t, 2).Events)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(l.PackedSubject())
	m.Header.Set("Gatehouse-Packed", "3")
	m.Data = body
	ack, err := js.PublishMsg(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), eventstest.Wait)
	defer cancel()
	var delivered int
	err = l.Follow(ctx, events.HighVolume, 0, func(context.Context, events.Event) error {
		delivered++
		return nil
	})
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "#1") || delivered != 0 {
		t.Fatalf("Follow over a packed message of 2 events saying 3 (seq %d): %v after %d events, want an error naming #1 before any event", ack.Sequence, err, delivered)
	}
}

// TestFollowTypesSkipsUnwantedPacks: a packed message says which types
// it holds (header Gatehouse-Packed-Types); FollowTypes hands on the
// events of a message it wants none of undecoded (positions and type
// only) and decodes a message holding a wanted type whole, while Follow
// decodes everything.
func TestFollowTypesSkipsUnwantedPacks(t *testing.T) {
	nc := natstest.Connect(t, natstest.Embedded(t))
	l := openPrefix(t, nc, natstest.Prefix(t))
	minted := tokenBatch(t, 3).Events
	revoked := events.MustNew(events.Ref{Tenant: "acme", Type: events.AggToken, ID: "app_1"},
		events.Actor{Kind: events.ActorApp, ID: "app_1"}, t0, events.TokenRevoked{JTI: "j", AppID: "app_1", ExpiresAt: t0})
	mixed := []events.Event{tokenBatch(t, 1).Events[0], revoked}
	ra, err := l.AppendPacked(t.Context(), minted)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := l.AppendPacked(t.Context(), mixed)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	str, err := js.Stream(t.Context(), l.StreamName(events.HighVolume))
	if err != nil {
		t.Fatal(err)
	}
	for seq, want := range map[uint64]string{ra.Last(): "token.minted", rb.Last(): "token.minted,token.revoked"} {
		m, err := str.GetMsg(t.Context(), seq)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Header.Get("Gatehouse-Packed-Types"); got != want {
			t.Errorf("message %d: Gatehouse-Packed-Types %q, want %q", seq, got, want)
		}
	}

	follow := func(want func(string) bool) []events.Event {
		ctx, cancel := context.WithTimeout(t.Context(), eventstest.Wait)
		defer cancel()
		var got []events.Event
		errDone := errors.New("done")
		err := l.FollowTypes(ctx, events.HighVolume, 0, want, func(_ context.Context, e events.Event) error {
			got = append(got, e)
			if e.Seq == rb.Last() && !e.More {
				return errDone
			}
			return nil
		})
		if !errors.Is(err, errDone) {
			t.Fatalf("FollowTypes: %v after %d events", err, len(got))
		}
		return got
	}
	all := append(slices.Clone(minted), mixed...)
	seqs := []uint64{ra.Last(), ra.Last(), ra.Last(), rb.Last(), rb.Last()}
	more := []bool{true, true, false, true, false}
	check := func(name string, got []events.Event, decoded func(i int) bool) {
		t.Helper()
		if len(got) != len(all) {
			t.Fatalf("%s: %d events, want %d", name, len(got), len(all))
		}
		for i, e := range got {
			typ := all[i].Type
			if !decoded(i) {
				typ = "token.minted" // an undecoded event has its message's first type
			}
			if e.Seq != seqs[i] || e.More != more[i] || e.Stream != events.HighVolume || e.Type != typ {
				t.Errorf("%s: event %d at %d More %v %s %s, want at %d More %v %s", name, i, e.Seq, e.More, e.Stream, e.Type, seqs[i], more[i], typ)
			}
			if decoded(i) != (e.ID == all[i].ID && e.Aggregate == all[i].Aggregate && string(e.Data) == string(all[i].Data)) {
				t.Errorf("%s: event %d decoded %v, want %v (%+v)", name, i, !decoded(i), decoded(i), e)
			}
		}
	}
	check("want token.revoked", follow(func(t string) bool { return t == "token.revoked" }), func(i int) bool { return i >= 3 })
	check("want nothing", follow(func(string) bool { return false }), func(int) bool { return false })
	check("want everything (nil)", follow(nil), func(int) bool { return true })
}

// TestPublishedEventsPackedApart: published events are packed in messages
// of their own on prefix.evt._packed.published, split from the token
// events around them in the same append, in order; Scan (the audit feed)
// still finds them.
func TestPublishedEventsPackedApart(t *testing.T) {
	nc := natstest.Connect(t, natstest.Embedded(t))
	prefix := natstest.Prefix(t)
	l := openPrefix(t, nc, prefix)
	toks := tokenBatch(t, 3).Events
	evs := []events.Event{toks[0], publishedEvent(t, "acme"), publishedEvent(t, "acme"), toks[1], publishedEvent(t, "other"), toks[2]}
	r, err := l.AppendPacked(t.Context(), evs)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	str, err := js.Stream(t.Context(), l.StreamName(events.HighVolume))
	if err != nil {
		t.Fatal(err)
	}
	pub := prefix + ".evt._packed.published"
	if got := l.PackedSubjectOf(events.AggPublished); got != pub {
		t.Errorf("PackedSubjectOf(published) = %q, want %q", got, pub)
	}
	if got := l.PackedSubjectOf(events.AggToken); got != l.PackedSubject() {
		t.Errorf("PackedSubjectOf(token) = %q, want PackedSubject %q", got, l.PackedSubject())
	}
	// Runs of one subject each: tok | pub pub | tok | pub | tok.
	want := []struct {
		subj  string
		count string
	}{{l.PackedSubject(), "1"}, {pub, "2"}, {l.PackedSubject(), "1"}, {pub, "1"}, {l.PackedSubject(), "1"}}
	for i, w := range want {
		m, err := str.GetMsg(t.Context(), uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != w.subj || m.Header.Get("Gatehouse-Packed") != w.count {
			t.Errorf("message %d on %q holding %q events, want %q holding %s", i+1, m.Subject, m.Header.Get("Gatehouse-Packed"), w.subj, w.count)
		}
		types := "token.minted"
		if w.subj == pub {
			types = "event.published"
		}
		if got := m.Header.Get("Gatehouse-Packed-Types"); got != types {
			t.Errorf("message %d: Gatehouse-Packed-Types %q, want %q", i+1, got, types)
		}
	}
	if wantSeqs := []uint64{1, 2, 2, 3, 4, 5}; !slices.Equal(r.Seqs, wantSeqs) {
		t.Errorf("sequences %v, want %v", r.Seqs, wantSeqs)
	}
	got, _, err := l.Scan(t.Context(), events.HighVolume, "other", 0, 10, 10)
	if err != nil || len(got) != 1 || got[0].ID != evs[4].ID {
		t.Fatalf("Scan of tenant other = %v, %v; want its one published event", got, err)
	}
	got, _, err = l.Scan(t.Context(), events.HighVolume, "acme", 0, 10, 10)
	if err != nil || len(got) != 5 {
		t.Fatalf("Scan of tenant acme = %d events, %v; want 5", len(got), err)
	}
	for i, j := range []int{0, 1, 2, 3, 5} {
		if got[i].ID != evs[j].ID {
			t.Errorf("Scan event %d = %s, want %s", i, got[i].ID, evs[j].ID)
		}
	}
}

func publishedEvent(t testing.TB, tenant string) events.Event {
	t.Helper()
	return events.MustNew(events.Ref{Tenant: tenant, Type: events.AggPublished, ID: events.NewID("evt")}, events.System, t0,
		&events.EventPublished{Type: "case.updated", Data: []byte(`{}`), AppID: "app_1"})
}
