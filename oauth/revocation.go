package oauth

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// revocation is a token to revoke: its app's and its own id, how long it
// could live, and who revokes it.
type revocation struct {
	Tenant    string
	AppID     string
	JTI       string
	ExpiresAt time.Time
	Actor     events.Actor
}

// revokeToken is the one revocation path, for RFC 7009 revocation and the
// platform API's revocation of a service token: it appends token.revoked
// and waits until the projections have applied it, so the token is refused
// as soon as the answer is out. A revocation is recorded for its app only
// (projections.IsRevoked); its dedupe id, revocationDedupeID, names both.
func (o *Server) revokeToken(ctx context.Context, r revocation) error {
	ev, err := events.New(events.Ref{Tenant: r.Tenant, Type: events.AggToken, ID: r.AppID}, r.Actor, o.cfg.Now(),
		&events.TokenRevoked{JTI: r.JTI, AppID: r.AppID, ExpiresAt: r.ExpiresAt.UTC(), GraceSeconds: o.cfg.revocationGraceSeconds()})
	if err != nil {
		return err
	}
	res, err := o.cfg.Log.Append(ctx, events.Append{Events: []events.Event{ev}, DedupeID: revocationDedupeID(r.AppID, r.JTI)})
	if err != nil {
		return err
	}
	return o.cfg.WaitFor(ctx, res.Stream, res.Last())
}

// revocationDedupeID is the one dedupe-id rule of token.revoked: a retried
// revocation of the same token of the same app is appended once, whichever
// endpoint retries it.
func revocationDedupeID(appID, jti string) string { return "revoke-" + appID + "-" + jti }
