package events_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/eventstest"
	"github.com/gatehouse/gatehouse/events/natstest"
)

// TestGroupCommitterConcurrent appends from many goroutines through one
// GroupCommitter on the embedded server, packed and (when the log is hidden
// behind atomicOnly) in atomic batches: every Append returns, and the
// stream holds every event once, at the sequence its Append returned.
func TestGroupCommitterConcurrent(t *testing.T) {
	e := natstest.Embedded(t)
	for _, c := range []struct {
		name   string
		packed bool
	}{{"packed", true}, {"atomic", false}} {
		t.Run(c.name, func(t *testing.T) {
			js := natstest.Open(t, natstest.Connect(t, e))
			var l events.Log = js
			if !c.packed {
				l = atomicOnly{js}
			}
			g := events.NewGroupCommitter(l, 0, 0)
			if err := g.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			const callers, each = 32, 25
			seqs := make(map[string]uint64, callers*each)
			var mu sync.Mutex
			errs := make([]error, callers)
			var wg sync.WaitGroup
			for i := range callers {
				wg.Go(func() {
					for range each {
						ev := tokenEvent(t, events.Ref{Tenant: "acme", Type: events.AggToken, ID: events.NewID("tok")})
						seq, err := g.Append(t.Context(), ev)
						if err != nil {
							errs[i] = err
							return
						}
						mu.Lock()
						seqs[ev.ID] = seq
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			got := followAll(t, js, events.HighVolume)
			if len(got) != len(seqs) {
				t.Fatalf("the stream holds %d events, %d were acknowledged", len(got), len(seqs))
			}
			messages := map[uint64]bool{}
			for _, ev := range got {
				if want, ok := seqs[ev.ID]; !ok || ev.Seq != want {
					t.Fatalf("event %s in the stream at %d; its Append returned %d (%v)", ev.ID, ev.Seq, want, ok)
				}
				messages[ev.Seq] = true
			}
			if !c.packed && len(messages) != len(got) {
				t.Fatalf("atomic batches: %d events share %d sequences", len(got), len(messages))
			}
			// 32 callers at once against writes that each wait for a
			// sync: the callers arriving during a write go together in
			// the next message (run), so some message holds several.
			if c.packed && len(messages) >= len(got) {
				t.Fatalf("packed: %d events in %d messages, none packed with another", len(got), len(messages))
			}
			t.Logf("%d events in %d messages", len(got), len(messages))
		})
	}
}

// followAll follows stream s of l from the start to its current last
// sequence and returns every event, checking the More flags on the way:
// set exactly when the next event shares the sequence.
func followAll(t *testing.T, l events.Log, s events.Stream) []events.Event {
	t.Helper()
	last, err := l.LastSeq(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if last == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(t.Context(), eventstest.Wait)
	defer cancel()
	errDone := errors.New("done")
	var got []events.Event
	err = l.Follow(ctx, s, 0, func(_ context.Context, e events.Event) error {
		if n := len(got); n > 0 && got[n-1].More != (got[n-1].Seq == e.Seq) {
			return fmt.Errorf("event %s at %d has More %v, the next is at %d", got[n-1].ID, got[n-1].Seq, got[n-1].More, e.Seq)
		}
		got = append(got, e)
		if e.Seq == last && !e.More {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("Follow(%s) to %d: %v after %d events", s, last, err, len(got))
	}
	return got
}
