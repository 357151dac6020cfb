package webhooks_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/webhooks"
)

func TestParseSchedule(t *testing.T) {
	for in, want := range map[string]webhooks.Schedule{
		"1s,2s":                          {time.Second, 2 * time.Second},
		" 5s , 5m ,30m":                  {5 * time.Second, 5 * time.Minute, 30 * time.Minute},
		"1h30m":                          {90 * time.Minute},
		"500ms":                          {500 * time.Millisecond},
		"5s,5m,30m,2h,5h,10h,10h":        webhooks.DefaultSchedule,
		"168h":                           {7 * 24 * time.Hour},
		strings.Repeat("1s,", 19) + "1s": slices.Repeat(webhooks.Schedule{time.Second}, 20),
	} {
		got, err := webhooks.ParseSchedule(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseSchedule(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"":                               "empty",
		"  ":                             "empty",
		"1s,,2s":                         `entry 2 ("") is not a duration`,
		"1s,2":                           `entry 2 ("2") is not a duration`,
		"1 s":                            `entry 1 ("1 s") is not a duration`,
		"fast":                           `entry 1 ("fast") is not a duration`,
		"1s,0s":                          `entry 2 ("0s") must be more than 0`,
		"-5s":                            `entry 1 ("-5s") must be more than 0`,
		"169h":                           `entry 1 ("169h") must be at most 168h0m0s`,
		strings.Repeat("1s,", 20) + "1s": "21 entries, at most 20",
		"1s,":                            `entry 2 ("") is not a duration`,
	} {
		_, err := webhooks.ParseSchedule(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSchedule(%q) = %v, want an error saying %q", in, err, want)
		}
	}
}

// fixed is a random source that always returns v.
func fixed(v float64) func() float64 { return func() float64 { return v } }

func TestScheduleNextJitters(t *testing.T) {
	s := webhooks.Schedule{10 * time.Second, time.Minute}
	for _, tc := range []struct {
		n    int
		rnd  float64
		want time.Duration
	}{
		{1, 0, 8 * time.Second},                    // -20 %
		{1, 0.5, 10 * time.Second},                 // on schedule
		{1, 0.75, 11 * time.Second},                // +10 %
		{2, 0, 48 * time.Second},                   // the second wait
		{2, 0.999999, 71999976 * time.Microsecond}, // just under +20 %
		{2, 1, 72 * time.Second},                   // a source out of range is clamped
		{2, -3, 48 * time.Second},
	} {
		got, ok := s.Next(tc.n, 0, fixed(tc.rnd))
		if !ok || got != tc.want {
			t.Errorf("Next(%d) with rnd %v = %s, %v; want %s", tc.n, tc.rnd, got, ok, tc.want)
		}
	}
}

func TestScheduleNextEnds(t *testing.T) {
	s := webhooks.DefaultSchedule
	for n := 1; n <= 7; n++ {
		if _, ok := s.Next(n, 0, nil); !ok {
			t.Errorf("no retry after %d failed attempts", n)
		}
	}
	for _, n := range []int{0, -1, 8, 100} {
		if w, ok := s.Next(n, time.Hour, fixed(0.5)); ok || w != 0 {
			t.Errorf("Next(%d) = %s, %v; want the schedule exhausted", n, w, ok)
		}
	}
	var empty webhooks.Schedule
	if _, ok := empty.Next(1, 0, nil); ok {
		t.Error("an empty schedule retries")
	}
}

func TestScheduleNextHonoursRetryAfter(t *testing.T) {
	s := webhooks.Schedule{10 * time.Second, 10 * time.Hour}
	for _, tc := range []struct {
		n          int
		retryAfter time.Duration
		want       time.Duration
	}{
		{1, 5 * time.Minute, 5 * time.Minute},  // longer than the schedule: honoured
		{1, 9 * time.Second, 10 * time.Second}, // shorter: the schedule wins
		{2, time.Hour, 10 * time.Hour},         // shorter than a long wait
		{1, 100 * time.Hour, 24 * time.Hour},   // capped
		{2, 30 * time.Hour, 24 * time.Hour},    // capped, still longer than 10h
		{1, -time.Hour, 10 * time.Second},      // nonsense is ignored
	} {
		got, ok := s.Next(tc.n, tc.retryAfter, fixed(0.5))
		if !ok || got != tc.want {
			t.Errorf("Next(%d, Retry-After %s) = %s, %v; want %s", tc.n, tc.retryAfter, got, ok, tc.want)
		}
	}
}

// TestScheduleNextDefaultSource: without an injected source the jitter
// stays within ±20 % and varies.
func TestScheduleNextDefaultSource(t *testing.T) {
	seen := map[time.Duration]bool{}
	for range 200 {
		w, ok := webhooks.DefaultSchedule.Next(2, 0, nil)
		if !ok || w < 4*time.Minute || w >= 6*time.Minute {
			t.Fatalf("second wait %s, want within 5m ±20 %%", w)
		}
		seen[w] = true
	}
	if len(seen) < 100 {
		t.Errorf("only %d distinct waits in 200", len(seen))
	}
}

func TestBackoffFollowsTheSchedule(t *testing.T) {
	r := webhooks.Backoff([]time.Duration{time.Second, time.Minute}, fixed(0))
	if w, ok := r(2, 0); !ok || w != 48*time.Second {
		t.Errorf("second wait %s %v", w, ok)
	}
	if w, ok := r(1, time.Hour); !ok || w != time.Hour {
		t.Errorf("Retry-After: %s %v", w, ok)
	}
	if _, ok := r(3, 0); ok {
		t.Error("a retry past the schedule")
	}
}
