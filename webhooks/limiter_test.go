package webhooks_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/webhooks"
)

func TestLimiterTryAcquire(t *testing.T) {
	l := webhooks.NewLimiter(2)
	r1, ok1 := l.TryAcquire("a")
	r2, ok2 := l.TryAcquire("a")
	if !ok1 || !ok2 || l.InFlight("a") != 2 {
		t.Fatalf("two slots of a: %v %v, %d in flight", ok1, ok2, l.InFlight("a"))
	}
	if _, ok := l.TryAcquire("a"); ok {
		t.Fatal("a third slot of a")
	}
	rb, ok := l.TryAcquire("b")
	if !ok {
		t.Fatal("a full endpoint blocks another")
	}
	r1()
	r1() // a second release frees nothing more
	if l.InFlight("a") != 1 {
		t.Fatalf("%d in flight after a double release, want 1", l.InFlight("a"))
	}
	r3, ok := l.TryAcquire("a")
	if !ok {
		t.Fatal("a released slot is not free")
	}
	if _, ok := l.TryAcquire("a"); ok {
		t.Fatal("a double release made room for two")
	}
	r2()
	r3()
	rb()
	if n := l.Endpoints(); n != 0 {
		t.Errorf("%d endpoints remembered after every release, want 0", n)
	}
	d := webhooks.NewLimiter(0)
	for i := range webhooks.DefaultPerEndpoint {
		if _, ok := d.TryAcquire("x"); !ok {
			t.Fatalf("slot %d of the default limiter", i+1)
		}
	}
	if _, ok := d.TryAcquire("x"); ok {
		t.Error("more than the default in flight")
	}
}

func TestLimiterAcquireWaits(t *testing.T) {
	l := webhooks.NewLimiter(1)
	release, err := l.Acquire(t.Context(), "a")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		r, err := l.Acquire(t.Context(), "a")
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	select {
	case <-got:
		t.Fatal("a second holder of one slot")
	default:
	}
	release()
	(<-got)() // the waiter gets the slot once it is free
	if n := l.Endpoints(); n != 0 {
		t.Errorf("%d endpoints remembered, want 0", n)
	}
}

func TestLimiterAcquireGivesUpWithTheContext(t *testing.T) {
	l := webhooks.NewLimiter(1)
	release, _ := l.TryAcquire("a")
	ctx, cancel := context.WithCancel(t.Context())
	errs := make(chan error, 1)
	go func() {
		_, err := l.Acquire(ctx, "a")
		errs <- err
	}()
	cancel()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire after cancel: %v", err)
	}
	if l.InFlight("a") != 1 {
		t.Fatalf("%d in flight, want the first holder only", l.InFlight("a"))
	}
	release()
	if n := l.Endpoints(); n != 0 {
		t.Errorf("%d endpoints remembered, want 0", n)
	}
}

// TestLimiterBoundsConcurrency: however many goroutines compete, no more
// than n hold a key's slots at once (run with -race).
func TestLimiterBoundsConcurrency(t *testing.T) {
	const n = 3
	l := webhooks.NewLimiter(n)
	var mu sync.Mutex
	inside, most := 0, 0
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			key := []string{"a", "b"}[i%2]
			for range 50 {
				release, err := l.Acquire(t.Context(), key)
				if err != nil {
					t.Error(err)
					return
				}
				if key == "a" {
					mu.Lock()
					inside++
					most = max(most, inside)
					mu.Unlock()
					mu.Lock()
					inside--
					mu.Unlock()
				}
				release()
			}
		})
	}
	wg.Wait()
	if most > n || most < 1 {
		t.Errorf("at most %d inside at once, want 1 to %d", most, n)
	}
	if e := l.Endpoints(); e != 0 {
		t.Errorf("%d endpoints remembered, want 0", e)
	}
}

// TestLimiterStuckEndpointDoesNotBlockAnother: with every slot of a stuck
// endpoint held by deliveries that hang, deliveries to another endpoint
// go through.
func TestLimiterStuckEndpointDoesNotBlockAnother(t *testing.T) {
	const n = 2
	unblock := make(chan struct{})
	arrived := make(chan struct{}, n)
	stuck := newEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		<-unblock
	})
	t.Cleanup(func() { close(unblock) }) // before the endpoint closes
	healthy := newEndpoint(t, answer(http.StatusOK))
	l := webhooks.NewLimiter(n)
	deliver := func(ctx context.Context, url string) (webhooks.SendResult, error) {
		release, err := l.Acquire(ctx, url)
		if err != nil {
			return webhooks.SendResult{}, err
		}
		defer release()
		return webhooks.Deliver(ctx, unguarded, outbound(url)), nil
	}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { _, _ = deliver(t.Context(), stuck.URL) })
	}
	for range n {
		<-arrived // both slots of the stuck endpoint are held
	}
	if _, ok := l.TryAcquire(stuck.URL); ok {
		t.Fatal("a third slot of the stuck endpoint")
	}
	for range 5 {
		if r, err := deliver(t.Context(), healthy.URL); err != nil || r.StatusCode != http.StatusOK {
			t.Fatalf("to the healthy endpoint: %+v, %v", r, err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := deliver(ctx, stuck.URL); !errors.Is(err, context.Canceled) {
		t.Errorf("a third delivery to the stuck endpoint: %v, want it waiting until its context ends", err)
	}
	unblock <- struct{}{}
	unblock <- struct{}{}
	wg.Wait()
}
