package webhooks

import (
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"strings"
	"time"
)

// Schedule is the wait before each retry of a delivery: after n failed
// attempts, the wait is Schedule[n-1] (jittered), so a delivery gets at most
// len(Schedule)+1 attempts.
type Schedule []time.Duration

// DefaultSchedule is the retry schedule of API.md "Webhooks": 8 attempts
// over about 28 hours.
var DefaultSchedule = Schedule{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Limits of a schedule ParseSchedule accepts.
const (
	MaxScheduleEntries = 20
	MaxScheduleEntry   = 7 * 24 * time.Hour
)

// MaxRetryAfter caps how far an endpoint's Retry-After can push a retry: a
// longer one waits 24 hours, so a misconfigured endpoint cannot park its
// deliveries for ever.
const MaxRetryAfter = 24 * time.Hour

// ParseSchedule reads the GATEHOUSE_WEBHOOK_RETRY_SCHEDULE format:
// comma-separated Go durations ("5s,5m,2h"; spaces around entries are
// ignored), each more than 0 and at most 7 days, 1 to 20 entries. Its
// error names the faulty entry.
func ParseSchedule(s string) (Schedule, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("the schedule is empty: give comma-separated durations such as 5s,5m,30m")
	}
	parts := strings.Split(s, ",")
	if len(parts) > MaxScheduleEntries {
		return nil, fmt.Errorf("the schedule has %d entries, at most %d are allowed", len(parts), MaxScheduleEntries)
	}
	out := make(Schedule, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		d, err := time.ParseDuration(p)
		switch {
		case err != nil:
			return nil, fmt.Errorf("entry %d (%q) is not a duration such as 30s, 5m or 2h", i+1, p)
		case d <= 0:
			return nil, fmt.Errorf("entry %d (%q) must be more than 0", i+1, p)
		case d > MaxScheduleEntry:
			return nil, fmt.Errorf("entry %d (%q) must be at most %s", i+1, p, MaxScheduleEntry)
		}
		out[i] = d
	}
	return out, nil
}

// Next returns the wait before the attempt that follows attemptsSoFar
// failed ones: Schedule[attemptsSoFar-1] with ±20 % uniform jitter, or
// retryAfter (the endpoint's Retry-After, capped at MaxRetryAfter) when
// that is longer. ok is false when the schedule is exhausted (or
// attemptsSoFar < 1): the delivery has failed. rnd returns a number in
// [0, 1) (nil: math/rand/v2.Float64); tests inject their own.
func (s Schedule) Next(attemptsSoFar int, retryAfter time.Duration, rnd func() float64) (wait time.Duration, ok bool) {
	if attemptsSoFar < 1 || attemptsSoFar > len(s) {
		return 0, false
	}
	if rnd == nil {
		rnd = mrand.Float64
	}
	r := min(max(rnd(), 0), 1)
	base := s[attemptsSoFar-1]
	wait = base - base/5 + time.Duration(math.Round(0.4*r*float64(base)))
	return max(wait, min(retryAfter, MaxRetryAfter)), true
}

// Backoff returns the Retries of the dispatcher following schedule (see
// Schedule.Next; rnd nil: math/rand/v2).
func Backoff(schedule []time.Duration, rnd func() float64) Retries {
	s := Schedule(schedule)
	return func(n int, retryAfter time.Duration) (time.Duration, bool) {
		return s.Next(n, retryAfter, rnd)
	}
}
