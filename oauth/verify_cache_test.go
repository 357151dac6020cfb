package oauth

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeKeys is a KeyVerifier and KeyPublisher over tokens of the form
// "<kid>.<claims JSON>.<signature>", valid when the signature is
// fakeSig of the rest (it binds kid and claims, like a real one); it
// counts the verifications it did.
type fakeKeys struct {
	mu        sync.Mutex
	published map[string]bool
	verified  int
}

func (f *fakeKeys) VerifyType(token, typ string) ([]byte, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verified++
	kid, rest, _ := strings.Cut(token, ".")
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return nil, kid, errors.New("bad signature")
	}
	payload, sig := rest[:i], rest[i+1:]
	if typ != "at+jwt" || sig != fakeSig(kid, payload) || !f.published[kid] {
		return nil, kid, errors.New("bad signature")
	}
	return []byte(payload), kid, nil
}

func (f *fakeKeys) Published(kid string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.published[kid]
}

func (f *fakeKeys) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.verified
}

func fakeToken(t *testing.T, kid, jti string, exp int64) string {
	b, err := json.Marshal(AccessClaims{Issuer: "https://gh", Audience: []string{"https://gh"}, ClientID: "c", JTI: jti, Tenant: "t", ExpiresAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	return kid + "." + string(b) + "." + fakeSig(kid, string(b))
}

// fakeSig is the "signature" of a fake token: a digest of kid and claims.
func fakeSig(kid, payload string) string {
	h := sha256.Sum256([]byte(kid + "." + payload))
	return hex.EncodeToString(h[:8])
}

// TestVerifiedCache: a token verified once is not verified again; expiry
// and the key's presence in the key set are checked on every call; a
// token that differs from a cached one in any byte is verified on its
// own; the cache stays within its bound.
func TestVerifiedCache(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	keys := &fakeKeys{published: map[string]bool{"k1": true, "k2": true}}
	v := newAccessVerifier(keys, "https://gh", func() time.Time { return now })
	if v.cache == nil {
		t.Fatal("no cache over a KeyPublisher")
	}
	tok := fakeToken(t, "k1", "a", now.Unix()+60)

	for i := range 3 {
		c, err := v.VerifyAccessToken(tok)
		if err != nil || c.JTI != "a" {
			t.Fatalf("call %d: %+v %v", i, c, err)
		}
	}
	if n := keys.count(); n != 1 {
		t.Fatalf("%d verifications for three calls, want 1", n)
	}

	// A tampered copy (the cached token's signature, other claims)
	// misses the cache: it goes to the key verifier, which refuses it.
	tampered := strings.Replace(tok, `"jti":"a"`, `"jti":"b"`, 1)
	if tampered == tok || tampered[strings.LastIndexByte(tampered, '.'):] != tok[strings.LastIndexByte(tok, '.'):] {
		t.Fatal("the tampered token should differ in its claims only")
	}
	before := keys.count()
	if c, err := v.VerifyAccessToken(tampered); !errors.Is(err, errTokenMalformed) {
		t.Fatalf("tampered token: %+v, %v; want malformed", c, err)
	}
	if keys.count() != before+1 {
		t.Fatal("the tampered token was answered from the cache")
	}

	// Expiry is checked on a hit.
	now = now.Add(60 * time.Second)
	if _, err := v.VerifyAccessToken(tok); !errors.Is(err, errTokenExpired) {
		t.Fatalf("after exp: %v, want expired", err)
	}
	now = now.Add(-60 * time.Second)

	// A key that leaves the set takes its cached tokens with it.
	tok2 := fakeToken(t, "k2", "c", now.Unix()+60)
	if _, err := v.VerifyAccessToken(tok2); err != nil {
		t.Fatal(err)
	}
	keys.mu.Lock()
	delete(keys.published, "k2")
	keys.mu.Unlock()
	before = keys.count()
	if _, err := v.VerifyAccessToken(tok2); !errors.Is(err, errTokenMalformed) {
		t.Fatalf("key unpublished: %v, want malformed", err)
	}
	if keys.count() != before {
		t.Fatal("a cached token of an unpublished key was verified again instead of refused")
	}

	// Bounded.
	for i := range verifiedCacheSize * 3 {
		if _, err := v.VerifyAccessToken(fakeToken(t, "k1", fmt.Sprint("n", i), now.Unix()+60)); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.cache.len(); n > verifiedCacheSize {
		t.Fatalf("cache holds %d tokens, bound %d", n, verifiedCacheSize)
	}
}

// TestVerifiedCacheKeepsHotTokens: a token used again and again survives
// any number of tokens seen once.
func TestVerifiedCacheKeepsHotTokens(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	keys := &fakeKeys{published: map[string]bool{"k": true}}
	v := newAccessVerifier(keys, "https://gh", func() time.Time { return now })
	hot := fakeToken(t, "k", "hot", now.Unix()+60)
	for i := range verifiedCacheSize * 2 {
		if i%1000 == 0 {
			if _, err := v.VerifyAccessToken(hot); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := v.VerifyAccessToken(fakeToken(t, "k", fmt.Sprint("n", i), now.Unix()+60)); err != nil {
			t.Fatal(err)
		}
	}
	if n := keys.count(); n != verifiedCacheSize*2+1 {
		t.Fatalf("%d verifications, want %d: the hot token was verified again", n, verifiedCacheSize*2+1)
	}
}
