package webhooks_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/webhooks"
)

// BenchmarkDeliver measures deliveries of a 1 KiB body signed with two
// secrets to a local endpoint answering 204, over keep-alive connections:
// one at a time, and from parallel workers (GOMAXPROCS×4 in flight).
func BenchmarkDeliver(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	client := webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: true, MaxIdlePerHost: 64})
	_, k1 := webhooks.NewSecret()
	_, k2 := webhooks.NewSecret()
	o := webhooks.Outbound{URL: srv.URL + "/hook", ID: "msg_2tqN3tlTSjuB1J9cqNvJOzLPTHy", Timestamp: time.Now(),
		Body: bytes.Repeat([]byte(`{"k":"v"}`), 114), Secrets: [][]byte{k1, k2}}
	check := func(b *testing.B, r webhooks.SendResult) {
		if r.StatusCode != http.StatusNoContent {
			b.Errorf("%+v", r)
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			check(b, webhooks.Deliver(b.Context(), client, o))
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				check(b, webhooks.Deliver(b.Context(), client, o))
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
	})
}
