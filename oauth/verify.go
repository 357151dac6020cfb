package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// KeyVerifier checks a compact JWS against the published keys (package
// jwks) and returns its payload.
type KeyVerifier interface {
	// VerifyType returns the payload of token once its header typ is typ
	// and its signature checks out against the key its kid names, with
	// that key's algorithm.
	VerifyType(token, typ string) (payload []byte, kid string, err error)
}

// TokenVerifier checks an access token's signature and claims, without any
// state: what a resource server would do with the JWKS.
type TokenVerifier interface {
	VerifyAccessToken(token string) (AccessClaims, error)
}

// Reasons an access token is not accepted.
var (
	errTokenMalformed = errors.New("token is malformed or its signature is invalid")
	errTokenExpired   = errors.New("token has expired")
	errTokenIssuer    = errors.New("token was issued by another issuer")
	errTokenAudience  = errors.New("token is not meant for this server")
)

// accessVerifier implements TokenVerifier (RFC 9068 §4).
type accessVerifier struct {
	keys   KeyVerifier
	issuer string
	now    func() time.Time
	leeway time.Duration
	// cache, when keys is a KeyPublisher, holds tokens verified before;
	// see verifiedCache. The claims it returns are shared: callers must
	// not modify them (their Audience).
	cache *verifiedCache
}

// newAccessVerifier returns the verifier of access tokens signed by keys
// for issuer; it caches verified tokens when keys is a KeyPublisher.
func newAccessVerifier(keys KeyVerifier, issuer string, now func() time.Time) *accessVerifier {
	v := &accessVerifier{keys: keys, issuer: issuer, now: now}
	if _, ok := keys.(KeyPublisher); ok {
		v.cache = newVerifiedCache(verifiedCacheSize)
	}
	return v
}

// VerifyAccessToken implements TokenVerifier. A token verified before is
// taken from the cache while the key that signed it is still published;
// its expiry is checked again on every call.
func (v *accessVerifier) VerifyAccessToken(token string) (AccessClaims, error) {
	c, _, err := v.verifySlot(token)
	return c, err
}

// verifySlot is VerifyAccessToken that also returns the slot where
// TokenChecker keeps the token's checked principal (nil when the
// verifier caches nothing).
func (v *accessVerifier) verifySlot(token string) (AccessClaims, *checkedSlot, error) {
	if v.cache == nil {
		c, _, err := v.verify(token)
		return c, nil, err
	}
	k := tokenKey(token)
	if t, ok := v.cache.get(k); ok {
		if !v.keys.(KeyPublisher).Published(t.kid) {
			v.cache.remove(k)
			return AccessClaims{}, nil, fmt.Errorf("%w: key %q is no longer published", errTokenMalformed, t.kid)
		}
		if v.expired(t.claims) {
			v.cache.remove(k)
			return AccessClaims{}, nil, errTokenExpired
		}
		return t.claims, t.checked, nil
	}
	c, kid, err := v.verify(token)
	if err != nil {
		return c, nil, err
	}
	slot := &checkedSlot{}
	v.cache.put(k, verifiedToken{claims: c, kid: kid, checked: slot})
	return c, slot, nil
}

func (v *accessVerifier) expired(c AccessClaims) bool {
	return v.now().Add(-v.leeway).Unix() >= c.ExpiresAt
}

// verify checks token's signature and claims, and returns them with the
// kid of the key that signed it.
func (v *accessVerifier) verify(token string) (AccessClaims, string, error) {
	payload, kid, err := v.keys.VerifyType(token, "at+jwt")
	if err != nil {
		return AccessClaims{}, "", fmt.Errorf("%w: %v", errTokenMalformed, err)
	}
	var c AccessClaims
	if err := json.Unmarshal(payload, &c); err != nil || c.JTI == "" || c.Tenant == "" || c.ClientID == "" {
		return AccessClaims{}, "", errTokenMalformed
	}
	if c.Issuer != v.issuer {
		return AccessClaims{}, "", errTokenIssuer
	}
	if !slices.Contains(c.Audience, v.issuer) {
		return AccessClaims{}, "", errTokenAudience
	}
	if v.expired(c) {
		return AccessClaims{}, "", errTokenExpired
	}
	return c, kid, nil
}
