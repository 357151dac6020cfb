package events

// ClockTicked moves the log's clock of the high-volume stream when
// nothing else does (aggregate clock, tenant KeyTenant): the projections
// drop what expires by the log's clock (DESIGN.md invariant 8), so an
// idle log would keep expired records. An instance appends it when a
// record has expired by its wall clock but not yet by the log's.
type ClockTicked struct{}

// AggClock is the aggregate type of clock.ticked.
const AggClock = "clock"

var _ = func() bool { highVolumeAggregates[AggClock] = true; return true }()
