package events

import (
	"context"
	"sync"
)

// Watermark reads the last sequence of a stream for callers that need one
// read after their call began (causality: everything appended before the
// call is at or below the answer), coalescing concurrent callers into one
// request to the server: while one read is in flight the callers that
// arrive wait for the next, which starts when it ends. One caller alone
// costs one round trip; many cost one round trip per round, not each.
type Watermark struct {
	log    Log
	stream Stream

	mu      sync.Mutex
	next    *watermarkRead // the read the next callers join: not sent yet
	reading bool           // a read is in flight
}

type watermarkRead struct {
	done chan struct{}
	seq  uint64
	err  error
}

// NewWatermark returns the watermark of stream s of log.
func NewWatermark(log Log, s Stream) *Watermark {
	return &Watermark{log: log, stream: s}
}

// Get returns a last sequence of the stream read after Get was called.
func (w *Watermark) Get(ctx context.Context) (uint64, error) {
	w.mu.Lock()
	r := w.next
	if r == nil {
		r = &watermarkRead{done: make(chan struct{})}
		w.next = r
	}
	if !w.reading {
		w.reading = true
		go w.loop()
	}
	w.mu.Unlock()
	select {
	case <-r.done:
		return r.seq, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// loop sends the pending read, then the one that gathered meanwhile,
// until none is pending.
func (w *Watermark) loop() {
	for {
		w.mu.Lock()
		r := w.next
		w.next = nil // later callers join the next round: this one is sent now
		if r == nil {
			w.reading = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		r.seq, r.err = w.log.LastSeq(context.Background(), w.stream)
		close(r.done)
	}
}
