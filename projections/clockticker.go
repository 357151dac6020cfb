package projections

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/ticker"
	"github.com/gatehouse/gatehouse/internal/worker"
)

// ClockTickEvery is how often the clock ticker looks for records that
// expired by the wall clock while the log stood still.
const ClockTickEvery = 10 * time.Second

// ClockTicker is the worker that keeps the log's clock moving on an idle
// server (see projections.ExpireAt): when a record of the high-volume
// stream has expired by this instance's clock but not by the log's, it
// appends clock.ticked. Instances ticking together write one event per
// period (the same de-duplication id).
type ClockTicker struct {
	Log    events.Log
	Store  Reader
	Now    func() time.Time
	Logger *slog.Logger
	// Every is the period (ClockTickEvery in the server).
	Every time.Duration

	group worker.Group
}

// Start starts the ticker; Close stops it (ctx bounds nothing).
func (c *ClockTicker) Start(ctx context.Context) error {
	ctx = c.group.Start(ctx)
	c.group.Go(func() {
		ticker.Every(ctx, c.Every, func() bool {
			if err := c.tick(ctx); err != nil && ctx.Err() == nil {
				c.Logger.Warn("retention: moving the log's clock failed; retrying", "err", err)
			}
			return true
		})
	})
	return nil
}

// tick appends clock.ticked if something is due.
func (c *ClockTicker) tick(ctx context.Context) error {
	now := c.Now()
	due, err := DueExpiry(ctx, c.Store, events.HighVolume, now)
	if err != nil || !due {
		return err
	}
	ref := events.Ref{Tenant: events.KeyTenant, Type: events.AggClock, ID: "clock"}
	ev, err := events.New(ref, events.System, now, &events.ClockTicked{})
	if err != nil {
		return err
	}
	period := now.Truncate(c.Every).Unix()
	_, err = c.Log.Append(ctx, events.Append{Events: []events.Event{ev}, DedupeID: fmt.Sprintf("clock-%d", period)})
	return err
}

// Close stops the ticker and waits for its round in flight.
func (c *ClockTicker) Close() error { return c.group.Close() }
