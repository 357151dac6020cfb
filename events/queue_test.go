package events_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
)

// queueRecorder collects what the consumers of a queue were given.
type queueRecorder struct {
	mu   sync.Mutex
	got  map[string][]string // event id → consumer names, one per call
	redo map[string]bool     // event id → given again with redelivered set
}

func (r *queueRecorder) handler(name string, fail func(events.Event) bool) events.QueueHandler {
	return func(_ context.Context, e events.Event, redelivered bool) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.got[e.ID] = append(r.got[e.ID], name)
		if redelivered {
			r.redo[e.ID] = true
		}
		if fail != nil && fail(e) {
			return errors.New("handler failed")
		}
		return nil
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestQueueSharesEventsAndRedelivers(t *testing.T) {
	emb := natstest.Embedded(t)
	log := natstest.Open(t, natstest.Connect(t, emb))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &queueRecorder{got: map[string][]string{}, redo: map[string]bool{}}
	failedOnce := map[string]bool{}
	var fmu sync.Mutex
	// The first call for each event with odd data fails: it must come back.
	failFirst := func(e events.Event) bool {
		fmu.Lock()
		defer fmu.Unlock()
		p, _ := events.Decode(e)
		if p.(*events.EventPublished).DedupeID != "fail" || failedOnce[e.ID] {
			return false
		}
		failedOnce[e.ID] = true
		return true
	}
	cfg := events.QueueConfig{Name: "dispatch", Stream: events.HighVolume, Types: []string{events.AggPublished}, Concurrency: 4, RetryDelay: 10 * time.Millisecond}
	var wg sync.WaitGroup
	started := make(chan struct{}, 2)
	cfg.Started = func() { started <- struct{}{} }
	for _, name := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = log.Consume(ctx, cfg, rec.handler(name, failFirst))
		}()
	}
	// The queue only gives events appended after its consumer exists.
	for range 2 {
		select {
		case <-started:
		case <-time.After(20 * time.Second):
			t.Fatal("the queue's consumers did not start")
		}
	}
	var ids []string
	for i := range 40 {
		dedupe := "ok"
		if i%5 == 0 {
			dedupe = "fail"
		}
		e := events.MustNew(events.Ref{Tenant: "t1", Type: events.AggPublished, ID: events.NewID("evt")}, events.System, time.Now(),
			&events.EventPublished{Type: "case.updated", Data: []byte(`{}`), AppID: "app_1", DedupeID: dedupe})
		if _, err := log.Append(ctx, events.Append{Events: []events.Event{e}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	// An event of another aggregate type is not given.
	other := events.MustNew(events.Ref{Tenant: "t1", Type: events.AggToken, ID: "jti_1"}, events.System, time.Now(),
		&events.TokenRevoked{JTI: "jti_1", AppID: "app_1", ExpiresAt: time.Now()})
	if _, err := log.Append(ctx, events.Append{Events: []events.Event{other}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every event handled", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for i, id := range ids {
			want := 1
			if i%5 == 0 {
				want = 2
			}
			if len(rec.got[id]) < want {
				return false
			}
		}
		return true
	})
	cancel()
	wg.Wait()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	consumers := map[string]int{}
	for i, id := range ids {
		calls := rec.got[id]
		want := 1
		if i%5 == 0 {
			want = 2
			if !rec.redo[id] {
				t.Errorf("event %d failed once but was not given again as redelivered", i)
			}
		}
		if len(calls) != want {
			t.Errorf("event %d handled %d times (%v), want %d", i, len(calls), calls, want)
		}
		for _, c := range calls {
			consumers[c]++
		}
	}
	if _, ok := rec.got[other.ID]; ok {
		t.Error("an event of an aggregate type the queue does not select was given")
	}
	if consumers["a"] == 0 || consumers["b"] == 0 {
		t.Errorf("the work was not shared: %v", consumers)
	}
}
