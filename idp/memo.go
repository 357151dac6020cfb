package idp

import (
	"context"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// What a token request keeps in its oauth.Memo, so that fosite's steps
// read each view once a request (oauth.Memo says why; nothing outlives
// the request).
type (
	// memoUser is an active user: projections.User.
	memoUser struct{ tenant, id string }
	// memoCode is a code's hash: the grant its first read found.
	memoCode string
	// memoWon is a grant's id: the grant as Commit read it once this
	// request's use won (ID token).
	memoWon string
)

// requestUser is activeUser, read once a token request.
func (p *IdP) requestUser(ctx context.Context, tenant, id string) (projections.User, error) {
	return oauth.Remember(ctx, memoUser{tenant, id}, func() (projections.User, error) {
		return p.activeUser(ctx, tenant, id)
	})
}

// byCode finds the grant of the code whose hash is h, once a token
// request: fosite reads a code twice (the second time when it issues the
// tokens, where a use in between is the log's to decide: Commit) and the
// PKCE handler once more.
func (s *grants) byCode(ctx context.Context, h string) (projections.Grant, error) {
	return oauth.Remember(ctx, memoCode(h), func() (projections.Grant, error) {
		return s.find(ctx, h, func() (projections.Grant, error) {
			return projections.GrantByCode(ctx, s.idp.cfg.Store, h)
		})
	})
}

// wonGrant returns grant id as this request's Commit read it when its use
// won, or reads it.
func (p *IdP) wonGrant(ctx context.Context, id string) (projections.Grant, error) {
	if v, ok := oauth.MemoOf(ctx).Load(memoWon(id)); ok {
		return v.(projections.Grant), nil
	}
	return projections.GetGrant(ctx, p.cfg.Store, id)
}
