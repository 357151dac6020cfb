package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/projections"
)

// clockTickEvery is how often the clock ticker looks for records that
// expired by the wall clock while the log stood still.
const clockTickEvery = 10 * time.Second

// clockTicker is the worker that keeps the log's clock moving on an idle
// server (see projections.ExpireAt): when a record of the high-volume
// stream has expired by this instance's clock but not by the log's, it
// appends clock.ticked. Instances ticking together write one event per
// period (the same de-duplication id).
type clockTicker struct {
	log    events.Log
	store  projections.Reader
	now    func() time.Time
	logger *slog.Logger
	every  time.Duration

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start implements worker.
func (c *clockTicker) Start(ctx context.Context) error {
	debugRetention.Store(c.store) // what GET /debug/retention shows
	ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	c.wg.Go(func() {
		t := time.NewTicker(c.every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := c.tick(ctx); err != nil && ctx.Err() == nil {
				c.logger.Warn("retention: moving the log's clock failed; retrying", "err", err)
			}
		}
	})
	return nil
}

// tick appends clock.ticked if something is due.
func (c *clockTicker) tick(ctx context.Context) error {
	now := c.now()
	due, err := projections.DueExpiry(ctx, c.store, events.HighVolume, now)
	if err != nil || !due {
		return err
	}
	ref := events.Ref{Tenant: events.KeyTenant, Type: events.AggClock, ID: "clock"}
	ev, err := events.New(ref, events.System, now, &events.ClockTicked{})
	if err != nil {
		return err
	}
	period := now.Truncate(c.every).Unix()
	_, err = c.log.Append(ctx, events.Append{Events: []events.Event{ev}, DedupeID: fmt.Sprintf("clock-%d", period)})
	return err
}

// Close implements worker.
func (c *clockTicker) Close() error {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	return nil
}
