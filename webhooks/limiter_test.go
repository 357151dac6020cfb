package webhooks_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
// than n hold a key's slots at once (run with -race). Holders keep their
// slot until the test lets one go, so the bound is reached in every round
// rather than by chance: with n held, one more slot must be refused, and
// each departure lets exactly one waiter in. Another key's holders churn
// meanwhile without taking a's slots.
func TestLimiterBoundsConcurrency(t *testing.T) {
	const n, workers, total = 3, 12, 48
	l := webhooks.NewLimiter(n)
	var holding, most atomic.Int64
	var tickets atomic.Int64 // entries left to make, shared by the workers
	tickets.Store(total)
	entered := make(chan struct{}, workers)
	leave := make(chan struct{})
	// On the way out (a failure included) the workers stop waiting.
	ctx, cancel := context.WithCancel(context.Background())
	var wg, churn sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
		churn.Wait()
	}()
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil && tickets.Add(-1) >= 0 {
				release, err := l.Acquire(ctx, "a")
				if err != nil {
					return // the test ends
				}
				h := holding.Add(1)
				for m := most.Load(); h > m && !most.CompareAndSwap(m, h); m = most.Load() {
				}
				select {
				case entered <- struct{}{}:
				case <-ctx.Done():
				}
				select { // hold the slot until the test lets one go
				case <-leave:
				case <-ctx.Done():
				}
				holding.Add(-1)
				release()
			}
		})
	}
	for range 8 {
		churn.Go(func() {
			for range 200 {
				release, err := l.Acquire(ctx, "b")
				if err != nil {
					return
				}
				release()
			}
		})
	}
	deadline := time.After(30 * time.Second)
	inside := 0
	for left := total; left > 0; left-- {
		for want := min(n, left); inside < want; inside++ {
			select {
			case <-entered:
			case <-deadline:
				t.Fatalf("%d holders of a after 30s, want %d", inside, want)
			}
		}
		if inside == n {
			if release, ok := l.TryAcquire("a"); ok {
				release()
				t.Fatalf("a slot of a was free with %d holders, the bound being %d", inside, n)
			}
		}
		if h := most.Load(); h > n {
			t.Fatalf("%d held a's slots at once, want at most %d", h, n)
		}
		leave <- struct{}{}
		inside--
	}
	wg.Wait()
	churn.Wait()
	if h := most.Load(); h != n {
		t.Errorf("at most %d held a's slots at once, want exactly %d", h, n)
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
