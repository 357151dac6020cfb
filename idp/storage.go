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
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// grants is fosite's storage of authorization codes, PKCE requests and
// refresh tokens, on the log: a grant (AggAuthzSession, by fosite's
// request id) is one aggregate whose events are the code's issue, its
// redemption, each rotation of its refresh-token family and its
// revocation. Codes and refresh tokens are known by the SHA-256 of their
// signatures only. A redemption or a rotation is group-committed with its
// access token's token.minted (no expectation: many token requests share
// one durable message) and the log's order decides: the projection
// accepts the first use of a code or of a refresh token and revokes the
// grant at any later one (projections.Grant.Won). Of two requests racing,
// on one instance or two, one answers 200 and the other invalid_grant.
type grants struct {
	idp *IdP
	// mintedEvent is the token.minted of an access token: the one mint
	// path's (oauth), appended with the grant's event.
	mintedEvent func(jti string, req fosite.Requester) (events.Event, error)
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
	sum := sha256Of(signature)
	return b64String(sum[:])
}

// sha256Of is the SHA-256 of s, hashed from a copy on the stack when s
// fits (a signature, an access token), not from a []byte of its own. A
// signature's copy is small: the stack array is zeroed at every call.
func sha256Of(s string) [sha256.Size]byte {
	if len(s) <= 64 {
		var buf [64]byte
		return sha256.Sum256(buf[:copy(buf[:], s)])
	}
	if len(s) <= 2048 {
		var buf [2048]byte
		return sha256.Sum256(buf[:copy(buf[:], s)])
	}
	return sha256.Sum256([]byte(s))
}

// b64String is base64.RawURLEncoding.EncodeToString of a hash or part of
// one, allocating only the string.
func b64String(b []byte) string {
	var enc [86]byte // EncodedLen(64)
	n := base64.RawURLEncoding.EncodedLen(len(b))
	if n > len(enc) {
		return base64.RawURLEncoding.EncodeToString(b)
	}
	base64.RawURLEncoding.Encode(enc[:n], b)
	return string(enc[:n])
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
// does not: when the user authenticated, in which browser session (the
// ID tokens' sid).
type issue struct {
	authTime  time.Time
	sessionID string
}

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

// idpActor is who the grants' events name.
var idpActor = events.Actor{Kind: events.ActorSystem, ID: "idp"}

// errUsed is the answer to a use of a code or a refresh token that the
// log did not accept (another use came first).
func errUsed() error {
	return fosite.ErrInvalidGrant.WithHint("The authorization code or refresh token has already been used.")
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
		ExpiresAt: sess.GetExpiresAt(fosite.AuthorizeCode).UTC(), SessionID: in.sessionID,
	}
	// Group-committed: the code reaches the browser only once the event
	// is durable. No projection wait: its redemption on this instance
	// finds it in issued, on another one catches up with the log (find).
	ev, err := events.New(grantRef(sess.Tenant, req.GetID()), idpActor, s.idp.now(), issued)
	if err != nil {
		return err
	}
	seq, err := s.idp.packed(ctx, ev)
	if err != nil {
		return err
	}
	s.idp.issued.add(ev, issued, seq)
	return nil
}

// find reads a grant by key. A miss on a code issued here a moment ago
// (code, its hash; "" for a refresh token) is answered from issued: its
// issue is group-committed, not waited for. Another miss waits for the
// projection to apply what this instance appended, then catches up with
// the log (a code issued on another instance), looking again after each.
func (s *grants) find(ctx context.Context, code string, get func() (projections.Grant, error)) (projections.Grant, error) {
	g, err := get()
	if errors.Is(err, projections.ErrNotFound) && code != "" {
		if g, ok := s.idp.issued.get(code); ok {
			return g, nil
		}
	}
	if errors.Is(err, projections.ErrNotFound) {
		if err := s.idp.cfg.WaitFor(ctx, events.HighVolume, s.idp.appended.Load()); err != nil {
			return g, err
		}
		g, err = get()
	}
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
	u, err := s.idp.requestUser(ctx, g.Tenant, g.UserID)
	if err != nil {
		return nil, err
	}
	sess := oauth.UserSession(g.Tenant, g.AppID, g.UserID, grantType)
	// The session's expiries: the code's, and the family's (its refresh
	// token's own is set again at each rotation; fosite adds the access
	// token's).
	sess.ExpiresAt = make(map[fosite.TokenType]time.Time, 4)
	sess.SetExpiresAt(fosite.AuthorizeCode, g.ExpiresAt)
	if g.RefreshExpiresAt != nil {
		sess.SetExpiresAt(fosite.RefreshToken, *g.RefreshExpiresAt)
		sess.SetExpiresAt(familyExpiry, *g.RefreshExpiresAt)
	}
	// fosite.NewRequest's request, without the DefaultClient and the form
	// it makes only for them to be replaced.
	r := &fosite.Request{ID: g.ID, RequestedAt: g.RequestedAt, Client: cl, Session: sess,
		RequestedScope: g.RequestedScopes, GrantedScope: fosite.Arguments{},
		RequestedAudience: fosite.Arguments{}, GrantedAudience: fosite.Arguments{}}
	have := cl.GetScopes()
	for _, sc := range g.GrantedScopes {
		if slices.Contains(have, sc) && (slices.Contains(oauth.OIDCScopes, sc) || catalog.UserMayHold(u.Roles, sc)) {
			r.GrantedScope = append(r.GrantedScope, sc)
		}
	}
	r.Form = grantForm(g)
	return r, nil
}

// grantForm is the form of grant g's authorization request that its
// token requests use (url.Values.Set of each that is not empty), the
// values in one array.
func grantForm(g projections.Grant) url.Values {
	params := [...][2]string{{"redirect_uri", g.RedirectURI}, {"code_challenge", g.CodeChallenge},
		{"code_challenge_method", g.ChallengeMethod}, {"nonce", g.Nonce}}
	n := 0
	for _, kv := range params {
		if kv[1] != "" {
			n++
		}
	}
	form := make(url.Values, n)
	vals := make([]string, 0, n)
	for _, kv := range params {
		if kv[1] != "" {
			vals = append(vals, kv[1])
			form[kv[0]] = vals[len(vals)-1 : len(vals) : len(vals)]
		}
	}
	return form
}

// GetAuthorizeCodeSession implements oauth2.AuthorizeCodeStorage. A used
// code (or one of a revoked grant) is ErrInvalidatedAuthorizeCode with
// its request, so fosite revokes what the first use issued.
//
// fosite reads the code again when it issues the tokens, with the session
// the first read returned (redeeming). A use that came in between is not
// this request's concern then: its redemption goes to the log anyway,
// which decides (Commit); an error there would be fosite's server_error.
func (s *grants) GetAuthorizeCodeSession(ctx context.Context, signature string, sess fosite.Session) (fosite.Requester, error) {
	h := hashOf(signature)
	g, err := s.byCode(ctx, h)
	if err != nil {
		return nil, err
	}
	used := g.Redeemed || g.Revoked != ""
	r, err := s.request(ctx, g, "authorization_code")
	switch {
	case redeeming(sess) && err != nil:
		return nil, fosite.ErrInvalidGrant.WithWrap(err)
	case redeeming(sess):
		return r, nil
	case err != nil && used:
		// Still revoke what the first use issued.
		return s.bare(g), fosite.ErrInvalidatedAuthorizeCode
	case err != nil:
		return nil, err
	case used:
		return r, fosite.ErrInvalidatedAuthorizeCode
	}
	return r, nil
}

// redeeming reports whether sess is a code's session that a first read
// returned (GetAuthorizeCodeSession): fosite's second read, when it
// issues the tokens. The first read gets the token request's own, empty
// session.
func redeeming(sess fosite.Session) bool {
	o, ok := sess.(*oauth.Session)
	return ok && o.Subject != ""
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
	for _, k := range []fosite.TokenType{fosite.RefreshToken, familyExpiry} {
		if e := req.GetSession().GetExpiresAt(k); !e.IsZero() && e.Before(exp) {
			exp = e
		}
	}
	t.refreshExp = &exp
	return nil
}

// familyExpiry is the session's record of when a refresh-token family
// ends (request): fosite sets the refresh token's own expiry afresh at
// every rotation, but rotation does not extend the family.
const familyExpiry fosite.TokenType = "refresh_token_family"

// GetRefreshTokenSession implements oauth2.RefreshTokenStorage. A used
// refresh token (or one of a revoked family) is ErrInactiveToken, which
// makes fosite revoke the family. A family whose user is disabled or
// deleted, whose consent was withdrawn or that stayed idle past the idle
// timeout is not found (invalid_grant).
func (s *grants) GetRefreshTokenSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	h := hashOf(signature)
	g, err := s.find(ctx, "", func() (projections.Grant, error) { return projections.GrantByRefresh(ctx, s.idp.cfg.Store, h) })
	if err != nil {
		return nil, err
	}
	r, err := s.liveRefresh(ctx, g, h)
	if r == nil {
		return nil, err
	}
	return r, err
}

// liveRefresh is GetRefreshTokenSession's decision on grant g, found by
// the hash h of a refresh token's signature: the request of a token that
// is live and usable now; a used token's (or a revoked family's) bare
// request with ErrInactiveToken; ErrNotFound for a family whose user may
// no longer hold it, whose consent is withdrawn or that stayed idle too
// long. Introspection decides by it too.
func (s *grants) liveRefresh(ctx context.Context, g projections.Grant, h string) (*fosite.Request, error) {
	if g.Refresh != h || g.Revoked != "" {
		return s.bare(g), fosite.ErrInactiveToken
	}
	if s.idp.cfg.RefreshIdleTTL > 0 && s.idp.now().Sub(g.LastUsed) > s.idp.cfg.RefreshIdleTTL {
		return nil, fosite.ErrNotFound
	}
	// The console's family (oauth.ConsoleClientID) needs no consent: it
	// asks for none.
	if _, console := oauth.ConsoleTenant(g.ClientID); !console {
		_, ok, err := projections.ConsentOf(ctx, s.idp.cfg.Store, g.Tenant, g.UserID, g.AppID)
		if err != nil {
			return nil, err
		}
		if !ok {
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
	h := hashOf(signature)
	g, err := s.byCode(ctx, h)
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

// Commit implements storage.Transactional: the redemption or rotation
// and the access token's token.minted, appended together through the
// group committer (Config.Packed: one durable message for many token
// requests, the token.minted first, so a failure between them never
// leaves a use without its token's record); then, once the projection has
// applied them, the grant tells whether this use was the first
// (projections.Grant.Won). A later one has revoked the grant there, the
// same on every instance; its request answers invalid_grant and revokes
// the family's access tokens, its own unsent one included (loseUse).
func (s *grants) Commit(ctx context.Context) error {
	t := txOf(ctx)
	if t == nil || t.req == nil {
		return nil
	}
	sess, ok := t.req.GetSession().(*oauth.Session)
	if !ok {
		return fmt.Errorf("idp: session is %T", t.req.GetSession())
	}
	var use events.Payload
	switch {
	case t.codeHash != "":
		use = &events.AuthCodeRedeemed{JTI: t.jti, AccessExpiresAt: t.accessExp.UTC(), RefreshHash: t.refreshHash, RefreshExpiresAt: t.refreshExp}
	case t.rotateFrom != "":
		// The family keeps its first expiry (familyExpiry).
		use = &events.RefreshRotated{OldHash: t.rotateFrom, NewHash: t.refreshHash, JTI: t.jti, AccessExpiresAt: t.accessExp.UTC(), RefreshExpiresAt: t.refreshExp}
	default:
		return errors.New("idp: a token request with neither a code nor a refresh token")
	}
	id := t.req.GetID()
	ev, err := events.New(grantRef(sess.Tenant, id), idpActor, s.idp.now(), use)
	if err != nil {
		return err
	}
	minted, err := s.mintedEvent(t.jti, t.req)
	if err != nil {
		return err
	}
	seq, err := s.idp.packed(ctx, minted, ev)
	if err != nil {
		return err
	}
	if t.codeHash != "" {
		// The redemption is in the log: the projection holds the grant
		// once it reaches seq, and answers any later read of the code.
		s.idp.issued.forget(t.codeHash)
	}
	if err := s.idp.cfg.WaitFor(ctx, events.HighVolume, seq); err != nil {
		return err
	}
	g, err := projections.GetGrant(ctx, s.idp.cfg.Store, id)
	if err == nil && g.Won(t.jti) {
		oauth.MemoOf(ctx).Store(memoWon(id), g)
		return nil
	}
	if err != nil && !errors.Is(err, projections.ErrNotFound) {
		return err
	}
	s.loseUse(ctx, g, sess, t)
	return errUsed()
}

// loseUse finishes a use of a code or a refresh token that came second:
// the projection revoked the grant when it applied it; the access tokens
// the family issued, and this request's own (minted, never sent), are
// revoked through the one revocation path. Failures are logged: the
// answer is invalid_grant whatever happens (the family is dead already).
func (s *grants) loseUse(ctx context.Context, g projections.Grant, sess *oauth.Session, t *tx) {
	if g.ID == "" { // gone from the projection (expired): only this token
		g = projections.Grant{Tenant: sess.Tenant, AuthCodeIssued: events.AuthCodeIssued{AppID: sess.AppID}}
	}
	if err := s.idp.revokeTokens(ctx, g, map[string]time.Time{t.jti: t.accessExp}); err != nil {
		s.idp.cfg.Logger.Warn("idp: revoking the tokens of a grant used twice", "grant", g.ID, "error", err)
	}
}
