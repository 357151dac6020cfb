package idp

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/pkce"
	fstorage "github.com/ory/fosite/storage"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// grants is fosite's storage of authorization codes, PKCE requests and
// refresh tokens, on the log: a grant (AggAuthzSession, by fosite's
// request id) is one subject whose events are the code's issue, its one
// redemption, each rotation of its refresh-token family and its
// revocation. Codes and refresh tokens are known by the SHA-256 of their
// signatures only. Redemption and rotation are appends expecting the
// grant's version (command.Run with one attempt): of two instances
// racing, one wins and the other answers invalid_grant.
type grants struct {
	idp *IdP
	// mint records token.minted: the one mint path (oauth).
	mint oauth2.AccessTokenStorage
}

var (
	_ oauth2.CoreStorage            = (*grants)(nil)
	_ oauth2.TokenRevocationStorage = (*grants)(nil)
	_ pkce.PKCERequestStorage       = (*grants)(nil)
	_ fstorage.Transactional        = (*grants)(nil)
)

// hashOf is what events and projections know of a code or refresh
// token: the SHA-256 of its HMAC signature.
func hashOf(signature string) string {
	sum := sha256.Sum256([]byte(signature))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func grantRef(tenant, id string) events.Ref {
	return events.Ref{Tenant: tenant, Type: events.AggAuthzSession, ID: id}
}

type ctxKey int

const (
	issueKey ctxKey = iota
	txKey
)

// issue is what the authorization endpoint knows and fosite's request
// does not: when the user authenticated.
type issue struct{ authTime time.Time }

// tx gathers the writes of one token request (fosite calls them between
// BeginTX and Commit); Commit makes them one conditional append.
type tx struct {
	codeHash    string
	grantID     string
	rotateFrom  string
	jti         string
	accessExp   time.Time
	refreshHash string
	refreshExp  *time.Time
	req         fosite.Requester
}

func txOf(ctx context.Context) *tx {
	t, _ := ctx.Value(txKey).(*tx)
	return t
}

// append runs one append of the grant's events at the version read.
func (s *grants) append(ctx context.Context, tenant, id string, seq uint64, p ...events.Payload) error {
	var evs []events.Event
	for _, pl := range p {
		ev, err := events.New(grantRef(tenant, id), events.Actor{Kind: events.ActorSystem, ID: "idp"}, s.idp.now(), pl)
		if err != nil {
			return err
		}
		evs = append(evs, ev)
	}
	_, err := command.Run(ctx, command.Deps{Log: s.idp.cfg.Log, WaitFor: s.idp.cfg.WaitFor, Attempts: 1},
		func(context.Context, int) (command.Decision, error) {
			return command.Decision{Append: events.Append{Events: evs, Expect: []events.Expect{{Ref: grantRef(tenant, id), Seq: seq}}}}, nil
		})
	if errors.Is(err, command.ErrContended) {
		return fosite.ErrInvalidGrant.WithHint("The authorization code or refresh token has already been used.")
	}
	return err
}

// CreateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage:
// authz_code.issued, expecting a new grant.
func (s *grants) CreateAuthorizeCodeSession(ctx context.Context, signature string, req fosite.Requester) error {
	sess, ok := req.GetSession().(*oauth.Session)
	if !ok {
		return fmt.Errorf("idp: session is %T", req.GetSession())
	}
	in, _ := ctx.Value(issueKey).(*issue)
	if in == nil {
		return errors.New("idp: code issued outside the authorization endpoint")
	}
	f := req.GetRequestForm()
	issued := &events.AuthCodeIssued{
		CodeHash: hashOf(signature), AppID: sess.AppID, ClientID: req.GetClient().GetID(), UserID: sess.Subject,
		RequestedScopes: req.GetRequestedScopes(), GrantedScopes: req.GetGrantedScopes(),
		RedirectURI: f.Get("redirect_uri"), CodeChallenge: f.Get("code_challenge"), ChallengeMethod: f.Get("code_challenge_method"),
		Nonce: f.Get("nonce"), AuthTime: in.authTime.UTC(), RequestedAt: req.GetRequestedAt().UTC(),
		ExpiresAt: sess.GetExpiresAt(fosite.AuthorizeCode).UTC(),
	}
	if s.idp.cfg.Packed == nil {
		return s.append(ctx, sess.Tenant, req.GetID(), 0, issued)
	}
	// Group-committed: the code reaches the browser only once the event
	// is durable. No projection wait: whoever redeems the code and misses
	// it catches up with the log (find). The grant's subject stays empty,
	// so the redemption expects version 0: of two redemptions one wins.
	ev, err := events.New(grantRef(sess.Tenant, req.GetID()), events.Actor{Kind: events.ActorSystem, ID: "idp"}, s.idp.now(), issued)
	if err != nil {
		return err
	}
	_, err = s.idp.cfg.Packed(ctx, ev)
	return err
}

// find reads a grant by key; a miss catches up with the log once (a code
// issued on another instance a moment ago).
func (s *grants) find(ctx context.Context, get func() (projections.Grant, error)) (projections.Grant, error) {
	g, err := get()
	if errors.Is(err, projections.ErrNotFound) {
		if err := s.idp.cfg.CatchUp(ctx); err != nil {
			return g, err
		}
		g, err = get()
	}
	if errors.Is(err, projections.ErrNotFound) {
		return g, fosite.ErrNotFound
	}
	return g, err
}

// request rebuilds fosite's request of grant g, with the client as it is
// now. The granted scopes are narrowed to what the app and the user may
// hold now (an approval revoked or a role taken away since).
func (s *grants) request(ctx context.Context, g projections.Grant, grantType string) (*fosite.Request, error) {
	cl, err := s.idp.cfg.OAuth.ClientByID(ctx, g.ClientID)
	if err != nil {
		return nil, err
	}
	u, err := s.idp.activeUser(ctx, g.Tenant, g.UserID)
	if err != nil {
		return nil, err
	}
	sess := oauth.UserSession(g.Tenant, g.AppID, g.UserID, grantType)
	sess.SetExpiresAt(fosite.AuthorizeCode, g.ExpiresAt)
	if g.RefreshExpiresAt != nil {
		sess.SetExpiresAt(fosite.RefreshToken, *g.RefreshExpiresAt)
	}
	r := fosite.NewRequest()
	r.ID, r.RequestedAt, r.Client, r.Session = g.ID, g.RequestedAt, cl, sess
	r.RequestedScope = g.RequestedScopes
	have := cl.GetScopes()
	for _, sc := range g.GrantedScopes {
		if slices.Contains(have, sc) && (slices.Contains(oauth.OIDCScopes, sc) || catalog.UserMayHold(u.Roles, sc)) {
			r.GrantedScope = append(r.GrantedScope, sc)
		}
	}
	r.Form = url.Values{}
	for k, v := range map[string]string{"redirect_uri": g.RedirectURI, "code_challenge": g.CodeChallenge,
		"code_challenge_method": g.ChallengeMethod, "nonce": g.Nonce} {
		if v != "" {
			r.Form.Set(k, v)
		}
	}
	return r, nil
}

// GetAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage. A used
// code (or one of a revoked grant) is ErrInvalidatedAuthorizeCode with
// its request, so fosite revokes what the first use issued.
func (s *grants) GetAuthorizeCodeSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	g, err := s.find(ctx, func() (projections.Grant, error) {
		return projections.GrantByCode(ctx, s.idp.cfg.Store, hashOf(signature))
	})
	if err != nil {
		return nil, err
	}
	r, err := s.request(ctx, g, "authorization_code")
	if err != nil {
		if g.Redeemed || g.Revoked != "" {
			// Still revoke what the first use issued.
			return s.bare(g), fosite.ErrInvalidatedAuthorizeCode
		}
		return nil, err
	}
	if g.Redeemed || g.Revoked != "" {
		return r, fosite.ErrInvalidatedAuthorizeCode
	}
	return r, nil
}

// bare is g's request without its client, enough to revoke by its id.
func (s *grants) bare(g projections.Grant) *fosite.Request {
	r := fosite.NewRequest()
	r.ID = g.ID
	r.Session = oauth.UserSession(g.Tenant, g.AppID, g.UserID, "")
	return r
}

// InvalidateAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage:
// the redemption is written at Commit.
func (s *grants) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	t := txOf(ctx)
	if t == nil {
		return errors.New("idp: code redeemed outside a transaction")
	}
	t.codeHash = hashOf(signature)
	return nil
}

// CreateAccessTokenSession implements oauth2.AccessTokenStorage: the
// token is recorded (token.minted) at Commit, after the redemption or
// rotation won.
func (s *grants) CreateAccessTokenSession(ctx context.Context, jti string, req fosite.Requester) error {
	t := txOf(ctx)
	if t == nil {
		return errors.New("idp: access token outside a transaction")
	}
	t.jti, t.req = jti, req
	t.accessExp = req.GetSession().GetExpiresAt(fosite.AccessToken)
	return nil
}

// GetAccessTokenSession implements oauth2.AccessTokenStorage: access
// tokens are self-contained JWTs.
func (s *grants) GetAccessTokenSession(context.Context, string, fosite.Session) (fosite.Requester, error) {
	return nil, fosite.ErrNotFound
}

// DeleteAccessTokenSession implements oauth2.AccessTokenStorage.
func (s *grants) DeleteAccessTokenSession(context.Context, string) error { return nil }

// CreateRefreshTokenSession implements oauth2.RefreshTokenStorage.
func (s *grants) CreateRefreshTokenSession(ctx context.Context, signature, _ string, req fosite.Requester) error {
	t := txOf(ctx)
	if t == nil {
		return errors.New("idp: refresh token outside a transaction")
	}
	t.refreshHash = hashOf(signature)
	exp := s.idp.now().Add(s.idp.cfg.RefreshTTL).UTC().Round(time.Second)
	if e := req.GetSession().GetExpiresAt(fosite.RefreshToken); !e.IsZero() && e.Before(exp) {
		exp = e
	}
	t.refreshExp = &exp
	return nil
}

// GetRefreshTokenSession implements oauth2.RefreshTokenStorage. A used
// refresh token (or one of a revoked family) is ErrInactiveToken, which
// makes fosite revoke the family. A family whose user is disabled or
// deleted, whose consent was withdrawn or that stayed idle past the idle
// timeout is not found (invalid_grant).
func (s *grants) GetRefreshTokenSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	h := hashOf(signature)
	g, err := s.find(ctx, func() (projections.Grant, error) { return projections.GrantByRefresh(ctx, s.idp.cfg.Store, h) })
	if err != nil {
		return nil, err
	}
	if g.Refresh != h || g.Revoked != "" {
		return s.bare(g), fosite.ErrInactiveToken
	}
	if s.idp.cfg.RefreshIdleTTL > 0 && s.idp.now().Sub(g.LastUsed) > s.idp.cfg.RefreshIdleTTL {
		return nil, fosite.ErrNotFound
	}
	// The console's family (oauth.ConsoleClientID) needs no consent: it
	// asks for none.
	if _, console := oauth.ConsoleTenant(g.ClientID); !console {
		c, err := projections.GetConsents(ctx, s.idp.cfg.Store, g.Tenant, g.UserID)
		if err != nil {
			return nil, err
		}
		if _, ok := c.Apps[g.AppID]; !ok {
			return nil, fosite.ErrNotFound
		}
	}
	r, err := s.request(ctx, g, "refresh_token")
	if errors.Is(err, errUserGone) {
		return nil, fosite.ErrNotFound
	}
	return r, err
}

// DeleteRefreshTokenSession implements oauth2.RefreshTokenStorage: a
// used token stays known (as used) to detect its reuse.
func (s *grants) DeleteRefreshTokenSession(context.Context, string) error { return nil }

// RotateRefreshToken implements oauth2.RefreshTokenStorage: the rotation
// is written at Commit.
func (s *grants) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	t := txOf(ctx)
	if t == nil {
		return errors.New("idp: rotation outside a transaction")
	}
	t.grantID, t.rotateFrom = requestID, hashOf(signature)
	return nil
}

// RevokeRefreshToken implements oauth2.TokenRevocationStorage: the whole
// family of grant requestID dies (authz_grant.revoked).
func (s *grants) RevokeRefreshToken(ctx context.Context, requestID string) error {
	return s.idp.revokeGrant(ctx, requestID, "")
}

// RevokeAccessToken implements oauth2.TokenRevocationStorage: every
// access token of the grant is revoked through the one revocation path.
func (s *grants) RevokeAccessToken(ctx context.Context, requestID string) error {
	g, err := projections.GetGrant(ctx, s.idp.cfg.Store, requestID)
	if errors.Is(err, projections.ErrNotFound) {
		return fosite.ErrNotFound
	}
	if err != nil {
		return err
	}
	return s.idp.revokeTokens(ctx, g)
}

// GetPKCERequestSession implements pkce.PKCERequestStorage: the code's
// own record holds its challenge.
func (s *grants) GetPKCERequestSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	g, err := s.find(ctx, func() (projections.Grant, error) {
		return projections.GrantByCode(ctx, s.idp.cfg.Store, hashOf(signature))
	})
	if err != nil {
		return nil, err
	}
	if g.CodeChallenge == "" {
		return nil, fosite.ErrNotFound
	}
	r := s.bare(g)
	r.Form = url.Values{"code_challenge": {g.CodeChallenge}, "code_challenge_method": {g.ChallengeMethod}}
	return r, nil
}

// CreatePKCERequestSession implements pkce.PKCERequestStorage: the
// challenge is already in authz_code.issued.
func (s *grants) CreatePKCERequestSession(context.Context, string, fosite.Requester) error {
	return nil
}

// DeletePKCERequestSession implements pkce.PKCERequestStorage.
func (s *grants) DeletePKCERequestSession(context.Context, string) error { return nil }

// BeginTX implements storage.Transactional.
func (s *grants) BeginTX(ctx context.Context) (context.Context, error) {
	return context.WithValue(ctx, txKey, &tx{}), nil
}

// Rollback implements storage.Transactional: nothing was written.
func (s *grants) Rollback(context.Context) error { return nil }

// Commit implements storage.Transactional: the redemption or rotation,
// expecting the grant's version, then the access token's token.minted.
func (s *grants) Commit(ctx context.Context) error {
	t := txOf(ctx)
	if t == nil || t.req == nil {
		return nil
	}
	var err error
	switch {
	case t.codeHash != "":
		err = s.redeem(ctx, t)
	case t.rotateFrom != "":
		err = s.rotate(ctx, t)
	default:
		return errors.New("idp: a token request with neither a code nor a refresh token")
	}
	if err != nil {
		return err
	}
	return s.mint.CreateAccessTokenSession(ctx, t.jti, t.req)
}

func (s *grants) redeem(ctx context.Context, t *tx) error {
	g, err := projections.GrantByCode(ctx, s.idp.cfg.Store, t.codeHash)
	if err != nil {
		return err
	}
	if g.Redeemed || g.Revoked != "" {
		return fosite.ErrInvalidGrant
	}
	return s.append(ctx, g.Tenant, g.ID, g.SubjectSeq(), &events.AuthCodeRedeemed{JTI: t.jti, AccessExpiresAt: t.accessExp.UTC(),
		RefreshHash: t.refreshHash, RefreshExpiresAt: t.refreshExp})
}

func (s *grants) rotate(ctx context.Context, t *tx) error {
	g, err := projections.GetGrant(ctx, s.idp.cfg.Store, t.grantID)
	if err != nil {
		return err
	}
	if g.Refresh != t.rotateFrom || g.Revoked != "" {
		return fosite.ErrInvalidGrant
	}
	// The family keeps its first expiry: rotation does not extend it.
	exp := g.RefreshExpiresAt
	err = s.append(ctx, g.Tenant, g.ID, g.SubjectSeq(), &events.RefreshRotated{OldHash: t.rotateFrom, NewHash: t.refreshHash, JTI: t.jti,
		AccessExpiresAt: t.accessExp.UTC(), RefreshExpiresAt: exp})
	if errors.Is(err, fosite.ErrInvalidGrant) {
		// Two uses of one refresh token at once: the loser's is a reuse.
		_ = s.idp.revokeGrant(ctx, g.ID, events.GrantRevokedRefreshReuse)
		_ = s.idp.revokeTokens(ctx, g)
	}
	return err
}
