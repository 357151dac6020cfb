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
	// Each consumer's calls wait (20 s at most) until the other consumer
	// has been given an event: a consumer whose handler is quick could
	// otherwise take every event before the other's pull is served (the
	// test failed so in CI, "map[a:48]"). A consumer holds at most its
	// pull's 4 buffered and its 4 calls of the queue's 16 unfinished
	// events, so the other is given some while it waits.
	given := map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{})}
	var once [2]sync.Once
	for i, name := range []string{"a", "b"} {
		other := map[string]string{"a": "b", "b": "a"}[name]
		h := rec.handler(name, failFirst)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = log.Consume(ctx, cfg, func(ctx context.Context, e events.Event, redelivered bool) error {
				once[i].Do(func() { close(given[name]) })
				select {
				case <-given[other]:
				case <-time.After(20 * time.Second):
				}
				return h(ctx, e, redelivered)
			})
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

// TestQueueGivesPackedPublishedEvents: published events packed apart are
// given one by one, each to one call; when one of a message's events
// fails, the whole message comes back with redelivered set (its other
// events too), and packed events of other types are never given.
func TestQueueGivesPackedPublishedEvents(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := &queueRecorder{got: map[string][]string{}, redo: map[string]bool{}}
	var failed sync.Once
	fail := func(e events.Event) bool {
		p, _ := events.Decode(e)
		if p.(*events.EventPublished).DedupeID != "fail" {
			return false
		}
		first := false
		failed.Do(func() { first = true })
		return first
	}
	started := make(chan struct{}, 1)
	cfg := events.QueueConfig{Name: "dispatch", Stream: events.HighVolume, Types: []string{events.AggPublished}, Concurrency: 4,
		RetryDelay: 10 * time.Millisecond, Started: func() { started <- struct{}{} }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = log.Consume(ctx, cfg, rec.handler("a", fail))
	}()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the queue's consumer did not start")
	}
	var evs []events.Event
	for i := range 10 {
		dedupe := "ok"
		if i == 3 {
			dedupe = "fail" // in the first message: it comes back whole
		}
		evs = append(evs, events.MustNew(events.Ref{Tenant: "t1", Type: events.AggPublished, ID: events.NewID("evt")}, events.System, time.Now(),
			&events.EventPublished{Type: "case.updated", Data: []byte(`{}`), AppID: "app_1", DedupeID: dedupe}))
	}
	tok := events.MustNew(events.Ref{Tenant: "t1", Type: events.AggToken, ID: "jti_1"}, events.System, time.Now(),
		&events.TokenRevoked{JTI: "jti_1", AppID: "app_1", ExpiresAt: time.Now()})
	first := append(append([]events.Event{}, evs[:5]...), tok) // two messages: 5 published, 1 token
	if _, err := log.AppendPacked(ctx, first); err != nil {
		t.Fatal(err)
	}
	if _, err := log.AppendPacked(ctx, evs[5:]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every event handled", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for i, e := range evs {
			if want := 1 + btoi(i < 5); len(rec.got[e.ID]) < want {
				return false
			}
		}
		return true
	})
	cancel()
	<-done
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i, e := range evs {
		want := 1 + btoi(i < 5)
		if len(rec.got[e.ID]) != want || rec.redo[e.ID] != (i < 5) {
			t.Errorf("event %d handled %d times (redelivered %v), want %d (%v)", i, len(rec.got[e.ID]), rec.redo[e.ID], want, i < 5)
		}
	}
	if _, ok := rec.got[tok.ID]; ok {
		t.Error("a packed token event was given")
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestQueueBoundsCallsOfPackedEvents: the events of packed messages run
// concurrently, but never more than Concurrency calls at once, whatever
// the number of messages being handled.
func TestQueueBoundsCallsOfPackedEvents(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	inFlight, most, handled := 0, 0, 0
	entered, release := make(chan struct{}, 16), make(chan struct{})
	h := func(ctx context.Context, e events.Event, _ bool) error {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		entered <- struct{}{}
		<-release
		mu.Lock()
		inFlight--
		handled++
		mu.Unlock()
		return nil
	}
	started := make(chan struct{}, 1)
	cfg := events.QueueConfig{Name: "dispatch", Stream: events.HighVolume, Types: []string{events.AggPublished}, Concurrency: 2,
		Started: func() { started <- struct{}{} }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = log.Consume(ctx, cfg, h)
	}()
	<-started
	var evs []events.Event
	for range 6 {
		evs = append(evs, events.MustNew(events.Ref{Tenant: "t1", Type: events.AggPublished, ID: events.NewID("evt")}, events.System, time.Now(),
			&events.EventPublished{Type: "case.updated", Data: []byte(`{}`), AppID: "app_1"}))
	}
	for _, msg := range [][]events.Event{evs[:3], evs[3:]} { // two messages, given at once
		if _, err := log.AppendPacked(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		select {
		case <-entered:
		case <-time.After(20 * time.Second):
			t.Fatal("the packed message's events were not given")
		}
	}
	select { // a third call while two are held would break the bound
	case <-entered:
		t.Fatal("a third call of the handler started while two were running (Concurrency 2)")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	waitFor(t, "every event handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return handled == len(evs)
	})
	cancel()
	<-done
	if most != 2 {
		t.Fatalf("at most %d calls ran at once, want 2", most)
	}
}
