package jwks

import (
	"bytes"
	"crypto/sha256"
	"sync"
)

// verifiedCacheSize bounds the verifications a Keyring remembers: about
// 2 MB of access-token claims.
const verifiedCacheSize = 4096

// verifiedCache remembers the tokens a Keyring verified, so a client that
// sends the same bearer token with every request (a publisher at
// thousands of events per second) costs one ECDSA verification per token,
// not per request. A token is one exact string: the same bytes verify the
// same way against the same keys, so an entry serves only while the
// keyring's snapshot is the one it was verified against; any change of the
// published keys (a key removed early included) makes every entry miss.
// Only successful verifications are kept, by SHA-256 of the token and the
// typ asked for, so the cache holds no bearer token.
type verifiedCache struct {
	mu sync.Mutex
	m  map[verifiedKey]verifiedEntry
}

type verifiedKey struct {
	sum [sha256.Size]byte
	typ string
}

type verifiedEntry struct {
	snap   *snapshot
	claims []byte
	kid    string
}

func verifiedKeyOf(token, typ string) verifiedKey {
	return verifiedKey{sum: sha256.Sum256([]byte(token)), typ: typ}
}

// get returns the claims and kid token verified to against snap.
func (c *verifiedCache) get(k verifiedKey, snap *snapshot) ([]byte, string, bool) {
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if !ok || e.snap != snap {
		return nil, "", false
	}
	return bytes.Clone(e.claims), e.kid, true
}

// put remembers that k verified to claims (which nobody may change) and
// kid against snap.
func (c *verifiedCache) put(k verifiedKey, snap *snapshot, claims []byte, kid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[verifiedKey]verifiedEntry)
	}
	if len(c.m) >= verifiedCacheSize {
		for old := range c.m { // map order is random: evict an arbitrary entry
			delete(c.m, old)
			break
		}
	}
	c.m[k] = verifiedEntry{snap: snap, claims: claims, kid: kid}
}
