package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Queue is implemented by logs that can share a stream's events among a
// group of processes: a durable consumer that every instance of a cluster
// consumes under one name, each event going to one of them at a time
// (DESIGN.md "Webhooks": the dispatcher).
type Queue interface {
	// Consume calls h for the events of cfg.Stream whose aggregate type is
	// in cfg.Types and that were appended after the queue named cfg.Name
	// was first created, until ctx ends. An event is done when h returns
	// nil; when h fails, or its process dies or takes longer than
	// cfg.AckWait, the event is given again (to this process or another),
	// with redelivered set. Delivery is at least once and, with
	// Concurrency > 1, unordered. Of packed events (Packer) only those
	// packed apart on their type's subject (JetStream.PackedSubjectOf:
	// published events) are given: the events of one message to
	// concurrent calls of h, and the message is done once every call
	// returned nil, given again whole otherwise.
	Consume(ctx context.Context, cfg QueueConfig, h QueueHandler) error
}

// QueueHandler handles one event of a Queue.
type QueueHandler func(ctx context.Context, e Event, redelivered bool) error

// QueueConfig names a queue and shapes how this process consumes it.
type QueueConfig struct {
	// Name is the durable name; processes consuming one name share it.
	Name string
	// Stream and Types select the events: those of Stream whose aggregate
	// type is one of Types.
	Stream Stream
	Types  []string
	// Concurrency is how many calls of h may run at once (default 64).
	Concurrency int
	// AckWait is how long an event may stay unfinished before it is given
	// again (default 30s).
	AckWait time.Duration
	// RetryDelay is how long an event h failed on waits before it is
	// given again (default 1s).
	RetryDelay time.Duration
	// Started, when set, is called each time the queue's consumer exists
	// on the server (so events appended from then on will be given).
	Started func()
}

var _ Queue = (*JetStream)(nil)

// Consume implements Queue with a durable pull consumer per name.
func (l *JetStream) Consume(ctx context.Context, cfg QueueConfig, h QueueHandler) error {
	if _, ok := l.streams[cfg.Stream]; !ok {
		return fmt.Errorf("%w: no stream %q", ErrInvalid, cfg.Stream)
	}
	if err := validToken(cfg.Name); err != nil || len(cfg.Types) == 0 {
		return fmt.Errorf("%w: queue %q with types %v", ErrInvalid, cfg.Name, cfg.Types)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = time.Second
	}
	filters := make([]string, 0, len(cfg.Types))
	for _, t := range cfg.Types {
		filters = append(filters, l.subject[cfg.Stream]+"*."+t+".*")
		if cfg.Stream == HighVolume && packedApart[t] {
			filters = append(filters, l.PackedSubjectOf(t))
		}
	}
	cc := jetstream.ConsumerConfig{
		Durable:        l.names[cfg.Stream] + "_" + cfg.Name,
		FilterSubjects: filters,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        cfg.AckWait,
		MaxAckPending:  4 * cfg.Concurrency,
		DeliverPolicy:  jetstream.DeliverNewPolicy,
		MaxDeliver:     -1,
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, cfg.Concurrency)
	h = bounded(h, cfg.Concurrency) // the events of packed messages too
	for {
		err := l.consumeOnce(ctx, cc, cfg, h, sem, &wg)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil && !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			select { // the server is away: try again
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
			}
		}
	}
}

func (l *JetStream) consumeOnce(ctx context.Context, cc jetstream.ConsumerConfig, cfg QueueConfig, h QueueHandler, sem chan struct{}, wg *sync.WaitGroup) error {
	cctx, cancel := l.ctx(ctx)
	cons, err := l.js.CreateOrUpdateConsumer(cctx, l.names[cfg.Stream], cc)
	cancel()
	if err != nil {
		return fmt.Errorf("%w: queue %s: %v", ErrUnavailable, cc.Durable, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(cfg.Concurrency))
	if err != nil {
		return fmt.Errorf("%w: queue %s: %v", ErrUnavailable, cc.Durable, err)
	}
	if cfg.Started != nil {
		cfg.Started()
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		m, err := it.Next()
		if err != nil {
			return err
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			l.handle(ctx, cfg, m, h)
		}()
	}
}

// handle gives one message to h and acknowledges it when h succeeds.
func (l *JetStream) handle(ctx context.Context, cfg QueueConfig, m jetstream.Msg, h QueueHandler) {
	md, err := m.Metadata()
	if err != nil {
		_ = m.NakWithDelay(cfg.RetryDelay)
		return
	}
	var evs []Event
	if count := m.Headers().Get(hdrPacked); count != "" {
		evs, err = decodePacked(cfg.Stream, md.Sequence.Stream, count, m.Data())
	} else {
		var e Event
		e, err = decodeMsg(cfg.Stream, md.Sequence.Stream, m.Data())
		evs = []Event{e}
	}
	if err != nil { // a message this build cannot read stays for one that can
		_ = m.NakWithDelay(cfg.RetryDelay)
		return
	}
	if err := handleAll(ctx, evs, md.NumDelivered > 1, cfg.Concurrency, h); err != nil {
		_ = m.NakWithDelay(cfg.RetryDelay)
		return
	}
	_ = m.Ack()
}

// bounded returns h letting at most n calls run at once.
func bounded(h QueueHandler, n int) QueueHandler {
	calls := make(chan struct{}, n)
	return func(ctx context.Context, e Event, redelivered bool) error {
		select {
		case calls <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-calls }()
		return h(ctx, e, redelivered)
	}
}

// handleAll gives each of evs (one message's) to h, up to limit calls at
// once, and returns their failures.
func handleAll(ctx context.Context, evs []Event, redelivered bool, limit int, h QueueHandler) error {
	if len(evs) == 1 {
		return h(ctx, evs[0], redelivered)
	}
	errs := make([]error, len(evs))
	var wg sync.WaitGroup
	for w := range min(limit, len(evs)) {
		wg.Go(func() {
			for i := w; i < len(evs); i += limit {
				errs[i] = h(ctx, evs[i], redelivered)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
