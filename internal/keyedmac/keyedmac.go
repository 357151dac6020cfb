// Package keyedmac is an HMAC under one fixed key whose hash states are
// pooled. hmac.New hashes the key into its inner and outer pads and
// allocates two hash states at every call; a Reset of a used one restores
// the pads from a copy. The server computes such MACs on hot paths (client
// secrets at the token endpoint, session cookies and CSRF tokens at the
// authorization endpoint, authorization codes and refresh tokens).
package keyedmac

import (
	"crypto/hmac"
	"hash"
	"sync"
)

// MAC is HMAC-h under one key, safe for concurrent use.
type MAC struct {
	pool sync.Pool // hash.Hash
}

// New returns the HMAC with hash h under key. key is kept, not copied.
func New(h func() hash.Hash, key []byte) *MAC {
	m := &MAC{}
	m.pool.New = func() any { return hmac.New(h, key) }
	return m
}

// Sum appends the MAC of data to dst and returns the result.
func (m *MAC) Sum(dst, data []byte) []byte {
	h := m.pool.Get().(hash.Hash)
	h.Reset()
	h.Write(data)
	dst = h.Sum(dst)
	m.pool.Put(h)
	return dst
}
