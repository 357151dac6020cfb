package oauth

import (
	"crypto/sha256"
	"sync"
	"unsafe"
)

// KeyPublisher is implemented by a KeyVerifier that can say cheaply
// whether the key kid is still published (jwks.Keyring). Only then does
// the access verifier cache verified tokens: a cached token is accepted
// again only while the key that signed it is still in the key set.
type KeyPublisher interface {
	Published(kid string) bool
}

// verifiedCache remembers the claims of access tokens whose signature and
// claims checked out, keyed by the SHA-256 of the whole token string, so
// that a token presented again (introspected, or used as a bearer token)
// costs a hash and a map lookup instead of a signature verification. It
// holds no state that can change: the caller still checks expiry, that
// the signing key is still published, and every stateful condition
// (revocation, app state, approved scopes) on every call.
//
// It is bounded: each shard keeps two generations of at most perGen
// entries; when the current one is full the previous one is dropped and
// the current one takes its place, so a token used again and again stays
// (a hit in the previous generation moves it to the current) while one
// seen once is forgotten after 2*perGen newer ones.
type verifiedCache struct {
	shards [verifiedShards]verifiedShard
	perGen int
}

const (
	verifiedShards = 16
	// verifiedCacheSize is the number of tokens the cache holds at most
	// (about 200 bytes each with their claims).
	verifiedCacheSize = 1 << 15
)

type verifiedShard struct {
	mu        sync.Mutex
	cur, prev map[[sha256.Size]byte]verifiedToken
}

// verifiedToken is what a verification established about one token.
type verifiedToken struct {
	claims AccessClaims
	kid    string
	// checked is where TokenChecker keeps the token's principal and the
	// change counts it was read under (checkedSlot).
	checked *checkedSlot
}

func newVerifiedCache(size int) *verifiedCache {
	c := &verifiedCache{perGen: max(size/verifiedShards/2, 1)}
	for i := range c.shards {
		c.shards[i].cur = make(map[[sha256.Size]byte]verifiedToken)
	}
	return c
}

// tokenKey hashes token in place: converting a token (longer than the
// 32 bytes the compiler keeps on the stack) to a []byte would copy it to
// the heap on every request. Sum256 only reads its argument.
func tokenKey(token string) [sha256.Size]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

func (c *verifiedCache) shard(k *[sha256.Size]byte) *verifiedShard {
	return &c.shards[k[0]%verifiedShards]
}

// get returns the verified token of key k.
func (c *verifiedCache) get(k [sha256.Size]byte) (verifiedToken, bool) {
	s := c.shard(&k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.cur[k]; ok {
		return v, true
	}
	v, ok := s.prev[k]
	if ok {
		delete(s.prev, k)
		s.putLocked(k, v, c.perGen)
	}
	return v, ok
}

// put remembers v under key k.
func (c *verifiedCache) put(k [sha256.Size]byte, v verifiedToken) {
	s := c.shard(&k)
	s.mu.Lock()
	s.putLocked(k, v, c.perGen)
	s.mu.Unlock()
}

// remove forgets key k.
func (c *verifiedCache) remove(k [sha256.Size]byte) {
	s := c.shard(&k)
	s.mu.Lock()
	delete(s.cur, k)
	delete(s.prev, k)
	s.mu.Unlock()
}

func (s *verifiedShard) putLocked(k [sha256.Size]byte, v verifiedToken, perGen int) {
	if len(s.cur) >= perGen {
		s.prev, s.cur = s.cur, make(map[[sha256.Size]byte]verifiedToken, perGen)
	}
	s.cur[k] = v
}

// len is the number of tokens held, for tests.
func (c *verifiedCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.cur) + len(s.prev)
		s.mu.Unlock()
	}
	return n
}
