package proxy

import (
	"sync"
	"sync/atomic"
)

// boundedMap is a sync.Map of at most about max entries: once a store
// goes past max, every entry is forgotten (what it holds is a cache or
// refills by itself). Reads take no lock, so a hot credential's requests
// do not queue behind each other on the proxy's per-request lookups.
type boundedMap[K comparable, V any] struct {
	m   sync.Map
	n   atomic.Int64
	max int64
}

func (b *boundedMap[K, V]) load(k K) (V, bool) {
	v, ok := b.m.Load(k)
	if !ok {
		var zero V
		return zero, false
	}
	return v.(V), true
}

// store sets k to v.
func (b *boundedMap[K, V]) store(k K, v V) {
	if _, loaded := b.m.Swap(k, v); !loaded {
		b.added()
	}
}

// loadOrStore returns k's value, setting it to v first if k has none.
func (b *boundedMap[K, V]) loadOrStore(k K, v V) V {
	got, loaded := b.m.LoadOrStore(k, v)
	if !loaded {
		b.added()
	}
	return got.(V)
}

func (b *boundedMap[K, V]) added() {
	if b.n.Add(1) > b.max {
		b.m.Clear()
		b.n.Store(0)
	}
}
