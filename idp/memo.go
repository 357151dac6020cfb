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
	m := oauth.MemoOf(ctx)
	if v, ok := m.Load(memoUser{tenant, id}); ok {
		return v.(projections.User), nil
	}
	u, err := p.activeUser(ctx, tenant, id)
	if err == nil {
		m.Store(memoUser{tenant, id}, u)
	}
	return u, err
}

// byCode finds the grant of the code whose hash is h, once a token
// request: fosite reads a code twice (the second time when it issues the
// tokens, where a use in between is the log's to decide: Commit) and the
// PKCE handler once more.
func (s *grants) byCode(ctx context.Context, h string) (projections.Grant, error) {
	m := oauth.MemoOf(ctx)
	if v, ok := m.Load(memoCode(h)); ok {
		return v.(projections.Grant), nil
	}
	g, err := s.find(ctx, h, func() (projections.Grant, error) {
		return projections.GrantByCode(ctx, s.idp.cfg.Store, h)
	})
	if err == nil {
		m.Store(memoCode(h), g)
	}
	return g, err
}

// wonGrant returns grant id as this request's Commit read it when its use
// won, or reads it.
func (p *IdP) wonGrant(ctx context.Context, id string) (projections.Grant, error) {
	if v, ok := oauth.MemoOf(ctx).Load(memoWon(id)); ok {
		return v.(projections.Grant), nil
	}
	return projections.GetGrant(ctx, p.cfg.Store, id)
}
