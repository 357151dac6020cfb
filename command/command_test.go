package command_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
)

// The tests run commands on a name claim (a real aggregate of the
// control stream with a projection): claiming it when free, releasing it
// when taken.
const (
	tenant = "ten_cmd"
	ns     = "test"
	name   = "alpha"
)

var ref = events.NameRef(tenant, ns, name)

// env is a real log on an embedded server, projected into memory.
type env struct {
	log   *events.JetStream
	store *memory.Store
	proj  *projections.Projector
}

func newEnv(t *testing.T, start bool) env {
	t.Helper()
	l := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	s := memory.New()
	p, err := projections.New(projections.Config{Log: l, Store: s, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if start {
		if err := p.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
	}
	return env{log: l, store: s, proj: p}
}

// deps are request deps: waits bounded by 5 s.
func (e env) deps(attempts int) command.Deps {
	return command.Deps{Log: e.log, WaitFor: e.proj.Bounded(5 * time.Second).WaitFor, Attempts: attempts}
}

func event(t *testing.T, p events.Payload) events.Event {
	t.Helper()
	ev, err := events.New(ref, events.System, time.Now(), p)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// toggle decides on the claim as the projection has it: claim it for
// owner when free, release it when taken. seen records the owner each
// attempt read.
func (e env) toggle(t *testing.T, owner string, seen *[]string) command.Decide {
	return func(ctx context.Context, _ int) (command.Decision, error) {
		c, err := projections.GetNameClaim(ctx, e.store, tenant, ns, name)
		if err != nil {
			return command.Decision{}, err
		}
		*seen = append(*seen, c.Owner)
		var p events.Payload = &events.NameClaimed{Namespace: ns, Value: name, Owner: owner}
		if c.Owner != "" {
			p = &events.NameReleased{Namespace: ns, Value: name, Owner: c.Owner}
		}
		return command.Decision{Append: events.Append{Events: []events.Event{event(t, p)}, Expect: []events.Expect{{Ref: ref, Seq: c.LastSeq}}}}, nil
	}
}

// rival appends a claim behind the command's back (another instance).
func (e env) rival(t *testing.T, owner string) {
	t.Helper()
	if _, err := e.log.Append(t.Context(), events.Append{Events: []events.Event{event(t, &events.NameClaimed{Namespace: ns, Value: name, Owner: owner})}}); err != nil {
		t.Fatal(err)
	}
}

func (e env) owner(t *testing.T) string {
	t.Helper()
	c, err := projections.GetNameClaim(t.Context(), e.store, tenant, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return c.Owner
}

// A lost race makes Run catch up and decide again on the state that beat
// it; the answer is read from the projection at once (read-your-writes).
func TestConflictDecidesAgain(t *testing.T) {
	e := newEnv(t, true)
	var seen []string
	decide := e.toggle(t, "me", &seen)
	first := true
	res, err := command.Run(t.Context(), e.deps(0), func(ctx context.Context, attempt int) (command.Decision, error) {
		d, err := decide(ctx, attempt)
		if first {
			first = false
			e.rival(t, "rival") // after the read, before the append
		}
		return d, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] != "" || seen[1] != "rival" {
		t.Fatalf("attempts read owners %q, want [\"\" \"rival\"]: the second decision must see the rival's claim", seen)
	}
	if got := e.owner(t); got != "" {
		t.Fatalf("after Run the projection says owner %q, want the release applied", got)
	}
	if len(res.Seqs) != 1 || res.Seqs[0] != 2 {
		t.Fatalf("result %+v, want the release at sequence 2", res)
	}
}

// A command that loses every race gives up after Attempts with
// ErrContended (which is also a version conflict) and writes nothing.
func TestExhaustedAttempts(t *testing.T) {
	e := newEnv(t, true)
	var seen []string
	decide := e.toggle(t, "me", &seen)
	_, err := command.Run(t.Context(), e.deps(3), func(ctx context.Context, attempt int) (command.Decision, error) {
		d, err := decide(ctx, attempt)
		e.rival(t, "rival")
		return d, err
	})
	if !errors.Is(err, command.ErrContended) || !errors.Is(err, events.ErrVersionConflict) {
		t.Fatalf("Run = %v, want ErrContended wrapping ErrVersionConflict", err)
	}
	if len(seen) != 3 {
		t.Fatalf("decided %d times, want 3 (Attempts)", len(seen))
	}
	evs, err := e.log.Read(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if strings.Contains(string(ev.Data), `"owner":"me"`) {
			t.Fatalf("a lost append was written: %s", ev.Data)
		}
	}
	if len(evs) != 3 {
		t.Fatalf("the aggregate holds %d events, want the rival's 3", len(evs))
	}
}

// A decision's DedupeID is the append's Nats-Msg-Id: the same command run
// twice writes once, and the second run is answered with the first one's
// position.
func TestDedupeIDWritesOnce(t *testing.T) {
	e := newEnv(t, true)
	ev := event(t, &events.NameClaimed{Namespace: ns, Value: name, Owner: "me"})
	decide := func(context.Context, int) (command.Decision, error) {
		return command.Decision{Append: events.Append{Events: []events.Event{ev}, DedupeID: "cmd-1"}}, nil
	}
	first, err := command.Run(t.Context(), e.deps(0), decide)
	if err != nil {
		t.Fatal(err)
	}
	second, err := command.Run(t.Context(), e.deps(0), decide)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Duplicate || second.Last() != first.Last() {
		t.Fatalf("second run %+v, want a duplicate of %+v", second, first)
	}
	if evs, err := e.log.Read(t.Context(), ref); err != nil || len(evs) != 1 {
		t.Fatalf("the aggregate holds %d events (%v), want 1", len(evs), err)
	}
}

// Several events are one atomic append: when one expectation fails (an
// aggregate expected empty that is not), none is written.
func TestBatchIsAtomic(t *testing.T) {
	e := newEnv(t, true)
	e.rival(t, "rival")
	other := events.NameRef(tenant, ns, "beta")
	evB, err := events.New(other, events.System, time.Now(), &events.NameClaimed{Namespace: ns, Value: "beta", Owner: "me"})
	if err != nil {
		t.Fatal(err)
	}
	evA := event(t, &events.NameClaimed{Namespace: ns, Value: name, Owner: "me"})
	_, err = command.Run(t.Context(), e.deps(1), func(context.Context, int) (command.Decision, error) {
		return command.Decision{Append: events.Append{Events: []events.Event{evB, evA},
			Expect: []events.Expect{{Ref: other}, {Ref: ref}}}}, nil // both expected empty
	})
	if !errors.Is(err, events.ErrVersionConflict) {
		t.Fatalf("Run = %v, want a conflict", err)
	}
	if _, err := e.log.Read(t.Context(), other); !errors.Is(err, events.ErrNotFound) {
		t.Fatalf("Read(beta) = %v, want ErrNotFound: half of the batch was written", err)
	}
}

// No events: nothing to change, nothing appended, no wait.
func TestNoEventsAppendsNothing(t *testing.T) {
	e := newEnv(t, false) // no projector: a wait would hang
	n := 0
	res, err := command.Run(t.Context(), e.deps(0), func(context.Context, int) (command.Decision, error) {
		n++
		return command.Decision{}, nil
	})
	if err != nil || len(res.Seqs) != 0 || n != 1 {
		t.Fatalf("Run = %+v, %v after %d decisions; want nothing, once", res, err, n)
	}
	if last, err := e.log.LastSeq(t.Context(), events.Control); err != nil || last != 0 {
		t.Fatalf("control stream at %d (%v), want empty", last, err)
	}
}

// A decision's error ends Run with it, unchanged.
func TestDecisionErrorIsReturned(t *testing.T) {
	e := newEnv(t, true)
	refused := errors.New("refused")
	if _, err := command.Run(t.Context(), e.deps(0), func(context.Context, int) (command.Decision, error) {
		return command.Decision{}, refused
	}); err != refused {
		t.Fatalf("Run = %v, want the decision's error", err)
	}
}

// The read-your-writes wait has the bound of the WaitFor given: with no
// projector applying, Run answers ErrUnavailable after the bound, the
// append durable all the same; NoWait returns at once.
func TestWaitBound(t *testing.T) {
	e := newEnv(t, false)
	d := command.Deps{Log: e.log, WaitFor: e.proj.Bounded(200 * time.Millisecond).WaitFor}
	ev := event(t, &events.NameClaimed{Namespace: ns, Value: name, Owner: "me"})
	start := time.Now()
	res, err := command.Run(t.Context(), d, func(context.Context, int) (command.Decision, error) {
		return command.Decision{Append: events.Append{Events: []events.Event{ev}}}, nil
	})
	if !errors.Is(err, projections.ErrUnavailable) {
		t.Fatalf("Run = %v, want projections.ErrUnavailable", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond || took > 5*time.Second {
		t.Fatalf("Run took %s, want about the 200ms bound", took)
	}
	if res.Last() != 1 {
		t.Fatalf("result %+v, want the durable append's position", res)
	}
	ev2 := event(t, &events.NameReleased{Namespace: ns, Value: name, Owner: "me"})
	if _, err := command.Run(t.Context(), d, func(context.Context, int) (command.Decision, error) {
		return command.Decision{Append: events.Append{Events: []events.Event{ev2}}, NoWait: true}, nil
	}); err != nil {
		t.Fatalf("NoWait Run = %v", err)
	}
}

func TestMatch(t *testing.T) {
	if err := command.Match(0, 7); err != nil {
		t.Errorf("Match(any, 7) = %v", err)
	}
	if err := command.Match(7, 7); err != nil {
		t.Errorf("Match(7, 7) = %v", err)
	}
	var stale *command.StaleError
	if err := command.Match(6, 7); !errors.As(err, &stale) || stale.Current != 7 {
		t.Errorf("Match(6, 7) = %v, want a StaleError at 7", err)
	}
}
