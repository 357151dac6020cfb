package events_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
)

func BenchmarkTune(b *testing.B) {
	e := natstest.Embedded(b)
	for _, w := range []int{1, 2} {
		for _, mb := range []int{500} {
			b.Run(fmt.Sprintf("w%d-b%d", w, mb), func(b *testing.B) {
				l := natstest.Open(b, natstest.Connect(b, e))
				g := events.NewGroupCommitter(l, mb, w)
				defer g.Close()
				evs := make([]events.Event, b.N)
				for i := range evs {
					evs[i] = benchEvent(b)
				}
				latencies := make([]time.Duration, b.N)
				run(b, 32, func(i int) error {
					start := time.Now()
					_, err := g.Append(b.Context(), evs[i])
					latencies[i] = time.Since(start)
					return err
				})
				report(b, 1, latencies)
				last, _ := l.LastSeq(b.Context(), events.HighVolume)
				b.ReportMetric(float64(b.N)/float64(last), "ev/msg")
			})
		}
	}
}
