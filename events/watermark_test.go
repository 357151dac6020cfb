package events_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/events/natstest"
)

// TestWatermarkIsCausal: whatever was appended before Get was called is
// at or below its answer, for many concurrent callers appending and
// asking at once.
func TestWatermarkIsCausal(t *testing.T) {
	log := natstest.Open(t, natstest.Connect(t, natstest.Embedded(t)))
	w := events.NewWatermark(log, events.Control)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 20 {
				ref := events.Ref{Tenant: "t1", Type: events.AggApp, ID: fmt.Sprintf("app_%d_%d", i, j)}
				res, err := log.Append(t.Context(), events.Append{Events: []events.Event{appEvent(t, ref)}})
				if err != nil {
					t.Error(err)
					return
				}
				seq, err := w.Get(t.Context())
				if err != nil {
					t.Error(err)
					return
				}
				if seq < res.Last() {
					t.Errorf("watermark %d read after an append at %d", seq, res.Last())
				}
			}
		})
	}
	wg.Wait()
}
