package loadgen

import (
	"math/bits"
	"time"
)

// histogram records latencies in fixed memory with a relative error below
// 1/histSub (0.8 %), in the manner of an HDR histogram: values below
// 2·histSub nanoseconds have a bucket each; above, every power of two is
// split into histSub buckets. Latencies up to 2^histMaxBits ns (about 18
// minutes) are kept apart; longer ones count in the last bucket.
type histogram struct {
	counts [histBuckets]int64
	n      int64
	sum    time.Duration
	min    time.Duration
	max    time.Duration
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits
	histMaxBits = 40
	histBuckets = (histMaxBits-histSubBits)*histSub + histSub
)

// bucketOf is the index of v's bucket.
func bucketOf(v time.Duration) int {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	if u < 2*histSub {
		return int(u)
	}
	shift := bits.Len64(u) - histSubBits - 1
	i := shift*histSub + int(u>>shift)
	return min(i, histBuckets-1)
}

// bucketHigh is the largest value that falls in bucket i.
func bucketHigh(i int) time.Duration {
	if i < 2*histSub {
		return time.Duration(i)
	}
	shift := i/histSub - 1
	m := uint64(i - shift*histSub)
	return time.Duration((m+1)<<shift - 1)
}

// record adds one latency.
func (h *histogram) record(v time.Duration) {
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	h.max = max(h.max, v)
	h.n++
	h.sum += v
}

// merge adds every value of o to h.
func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// percentile returns the smallest recorded value (to the histogram's
// precision) that at least p percent of the values do not exceed; 0 when
// empty.
func (h *histogram) percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(p / 100 * float64(h.n))
	if float64(rank) < p/100*float64(h.n) || rank == 0 {
		rank++
	}
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(max(bucketHigh(i), h.min), h.max)
		}
	}
	return h.max
}

// mean is the average value; 0 when empty.
func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}
