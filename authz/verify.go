package authz

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
}

// VerifyAccessToken implements TokenVerifier.
func (v *accessVerifier) VerifyAccessToken(token string) (AccessClaims, error) {
	payload, _, err := v.keys.VerifyType(token, "at+jwt")
	if err != nil {
		return AccessClaims{}, fmt.Errorf("%w: %v", errTokenMalformed, err)
	}
	var c AccessClaims
	if err := json.Unmarshal(payload, &c); err != nil || c.JTI == "" || c.Tenant == "" || c.ClientID == "" {
		return AccessClaims{}, errTokenMalformed
	}
	if c.Issuer != v.issuer {
		return AccessClaims{}, errTokenIssuer
	}
	if !slices.Contains(c.Audience, v.issuer) {
		return AccessClaims{}, errTokenAudience
	}
	if v.now().Add(-v.leeway).Unix() >= c.ExpiresAt {
		return AccessClaims{}, errTokenExpired
	}
	return c, nil
}
