package projections

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// KindRevokedToken is the document kind of revoked access tokens, by
// "<app id>/<jti>": a revocation recorded for one app can never revoke
// another app's token, whatever jti it names.
const KindRevokedToken = "revoked_token"

// RevokedToken is an access token withdrawn before its expiry.
type RevokedToken struct {
	JTI       string    `json:"jti"`
	AppID     string    `json:"app_id"`
	ExpiresAt time.Time `json:"expires_at"`
	RevokedAt time.Time `json:"revoked_at"`
}

// RevocationGrace is how long past its token's expiry a revocation is
// kept when its event does not say (version 1 events): more than the
// clock skew between the instances that verify tokens and the one whose
// clock the log's is, so no instance accepts a revoked token its own
// clock still finds unexpired. Newer events carry the grace configured
// when they were appended (GATEHOUSE_REVOCATION_GRACE).
const RevocationGrace = events.DefaultRevocationGrace

// A revocation is dropped once its token has expired (the event's grace
// after, by the log's clock): the token is refused for its exp then. The
// grace is read from the event, never from this instance's settings, so
// a rebuild keeps what the live projection kept (invariant 6).
var _ = on(func(tx Tx, e events.Event, p *events.TokenRevoked) error {
	body, err := json.Marshal(RevokedToken{JTI: p.JTI, AppID: p.AppID, ExpiresAt: p.ExpiresAt, RevokedAt: e.Time})
	if err != nil {
		return err
	}
	id := p.AppID + "/" + p.JTI
	if err := tx.Put(Doc{Kind: KindRevokedToken, ID: id, Tenant: e.Aggregate.Tenant, Sort: e.Time.Format(time.RFC3339Nano), Body: body}); err != nil {
		return err
	}
	return ExpireAt(tx, events.HighVolume, KindRevokedToken, id, p.ExpiresAt.Add(p.Grace()))
})

// IsRevoked reports whether the access token jti of app appID was revoked.
func IsRevoked(ctx context.Context, r Reader, appID, jti string) (bool, error) {
	_, err := r.Get(ctx, KindRevokedToken, appID+"/"+jti)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
