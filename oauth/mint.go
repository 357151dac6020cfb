package oauth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/jsonenc"
)

// MaxTokenTTL is the longest lifetime of an access token, in seconds: the
// longest access_token_ttl_seconds of an app and ttl_seconds of a service
// token. A revocation that does not know its token's expiry lasts this long.
const MaxTokenTTL = 86400

// TokenSigner signs JWTs with the active key (package jwks).
type TokenSigner interface {
	// Sign returns the compact JWS of claims with header typ and the
	// active key's kid and alg.
	Sign(claims any, typ string) (string, error)
}

// AccessClaims are the claims of an access token, RFC 9068 §2.2, plus tid
// (the tenant).
type AccessClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  []string `json:"aud"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope,omitempty"`
	JTI       string   `json:"jti"`
	IssuedAt  int64    `json:"iat"`
	ExpiresAt int64    `json:"exp"`
	Tenant    string   `json:"tid"`
	// Act is set on service tokens: the admin that minted the token for
	// the app (RFC 8693 §4.1).
	Act *ActClaim `json:"act,omitempty"`
}

// ActClaim is the actor claim of RFC 8693 §4.1: the party acting with a
// token issued to another one. A service token's act is the admin app that
// minted it; an admin that itself acted with a service token nests its own
// act, so the whole delegation chain is in the signed token.
type ActClaim struct {
	// Subject is the admin app's client_id.
	Subject string `json:"sub"`
	// AppID is the admin app's id, which events name.
	AppID string    `json:"app_id"`
	Act   *ActClaim `json:"act,omitempty"`
}

// actor is the audit actor the act chain stands for, nil for none.
func (a *ActClaim) actor() *events.Actor {
	if a == nil {
		return nil
	}
	return &events.Actor{Kind: events.ActorApp, ID: a.AppID, OnBehalfOf: a.Act.actor()}
}

// AppendJSON appends c as json.Marshal encodes it (jwks.Signer.Sign
// takes it so, without reflection).
func (c AccessClaims) AppendJSON(b []byte) []byte {
	b = jsonenc.ClaimsHead(b, c.Issuer, c.Subject, c.Audience)
	b = jsonenc.StringMember(b, "client_id", c.ClientID)
	if c.Scope != "" {
		b = jsonenc.StringMember(b, "scope", c.Scope)
	}
	b = jsonenc.StringMember(b, "jti", c.JTI)
	b = jsonenc.IntMember(b, "iat", c.IssuedAt)
	b = jsonenc.IntMember(b, "exp", c.ExpiresAt)
	b = jsonenc.StringMember(b, "tid", c.Tenant)
	if c.Act != nil {
		b = c.Act.appendJSON(jsonenc.Member(b, "act"))
	}
	return append(b, '}')
}

func (a *ActClaim) appendJSON(b []byte) []byte {
	b = append(b, '{')
	b = jsonenc.StringMember(b, "sub", a.Subject)
	b = jsonenc.StringMember(b, "app_id", a.AppID)
	if a.Act != nil {
		b = a.Act.appendJSON(jsonenc.Member(b, "act"))
	}
	return append(b, '}')
}

// Scopes returns the space-separated scope claim as a list.
func (c AccessClaims) Scopes() []string { return strings.Fields(c.Scope) }

// Session is the fosite session of a token request.
type Session struct {
	Subject   string
	Tenant    string
	AppID     string
	GrantType string
	JTI       string
	ExpiresAt map[fosite.TokenType]time.Time
}

var _ fosite.Session = (*Session)(nil)

// SetExpiresAt implements fosite.Session.
func (s *Session) SetExpiresAt(key fosite.TokenType, exp time.Time) {
	if s.ExpiresAt == nil {
		s.ExpiresAt = map[fosite.TokenType]time.Time{}
	}
	s.ExpiresAt[key] = exp
}

// GetExpiresAt implements fosite.Session.
func (s *Session) GetExpiresAt(key fosite.TokenType) time.Time { return s.ExpiresAt[key] }

// GetUsername implements fosite.Session.
func (s *Session) GetUsername() string { return "" }

// GetSubject implements fosite.Session.
func (s *Session) GetSubject() string { return s.Subject }

// Clone implements fosite.Session.
func (s *Session) Clone() fosite.Session {
	c := *s
	c.ExpiresAt = make(map[fosite.TokenType]time.Time, len(s.ExpiresAt))
	for k, v := range s.ExpiresAt {
		c.ExpiresAt[k] = v
	}
	return &c
}

// newJTI returns a 128-bit random token id.
func newJTI() string { return RandomToken(16) }

// grant is what an access token is minted for: the claims' subject and
// scopes, and what its token.minted records.
type grant struct {
	Tenant    string
	AppID     string
	ClientID  string
	Subject   string
	GrantType string
	Scopes    []string
	ExpiresAt time.Time
	// Act is the act claim of a service token; nil otherwise.
	Act *ActClaim
	// Actor is who token.minted names: the app itself, or the admin that
	// minted a service token.
	Actor events.Actor
}

// minter is the one mint path: it builds an RFC 9068 JWT's claims and signs
// them (sign), and appends token.minted through the mints group committer,
// returning once it is durable (record), so no token is answered without
// its event (DESIGN.md invariant 2). The token endpoint reaches it through
// fosite (jwtStrategy signs, mintRecorder records); service tokens call
// mint, which does both.
type minter struct {
	signer   TokenSigner
	issuer   string
	audience []string
	group    *events.GroupCommitter
	now      func() time.Time
}

// sign returns g's signed access token and its claims.
func (m *minter) sign(g grant, now time.Time) (string, AccessClaims, error) {
	if g.ExpiresAt.IsZero() {
		return "", AccessClaims{}, fmt.Errorf("oauth: access token without expiry")
	}
	claims := AccessClaims{
		Issuer:    m.issuer,
		Subject:   g.Subject,
		Audience:  m.audience,
		ClientID:  g.ClientID,
		Scope:     strings.Join(g.Scopes, " "),
		JTI:       newJTI(),
		IssuedAt:  now.Unix(),
		ExpiresAt: g.ExpiresAt.Unix(),
		Tenant:    g.Tenant,
		Act:       g.Act,
	}
	tok, err := m.signer.Sign(claims, "at+jwt")
	if err != nil {
		return "", AccessClaims{}, err
	}
	return tok, claims, nil
}

// record appends token.minted of the token jti minted for g and waits
// until it is durable.
func (m *minter) record(ctx context.Context, g grant, jti string, now time.Time) error {
	ev, err := mintedEvent(g, jti, now)
	if err != nil {
		return err
	}
	_, err = m.group.Append(ctx, ev)
	return err
}

// mintedEvent is the token.minted of the token jti minted for g.
func mintedEvent(g grant, jti string, now time.Time) (events.Event, error) {
	actor := g.Actor
	if actor.ID == "" {
		actor = events.Actor{Kind: events.ActorApp, ID: g.AppID}
	}
	return events.New(events.Ref{Tenant: g.Tenant, Type: events.AggToken, ID: g.AppID}, actor, now,
		&events.TokenMinted{JTI: jti, AppID: g.AppID, ClientID: g.ClientID, Subject: g.Subject,
			GrantType: g.GrantType, Scopes: g.Scopes, ExpiresAt: g.ExpiresAt.UTC()})
}

// mint signs g's token and records it: the token and its jti, once
// token.minted is durable.
func (m *minter) mint(ctx context.Context, g grant) (token, jti string, err error) {
	now := m.now()
	tok, claims, err := m.sign(g, now)
	if err != nil {
		return "", "", err
	}
	if err := m.record(ctx, g, claims.JTI, now); err != nil {
		return "", "", err
	}
	return tok, claims.JTI, nil
}

// grantOf is the grant of fosite's token request req.
func grantOf(req fosite.Requester) (grant, *Session, error) {
	sess, ok := req.GetSession().(*Session)
	if !ok {
		return grant{}, nil, fmt.Errorf("oauth: session is %T", req.GetSession())
	}
	return grant{Tenant: sess.Tenant, AppID: sess.AppID, ClientID: req.GetClient().GetID(), Subject: sess.Subject,
		GrantType: sess.GrantType, Scopes: req.GetGrantedScopes(), ExpiresAt: sess.GetExpiresAt(fosite.AccessToken)}, sess, nil
}

// jwtStrategy issues RFC 9068 JWT access tokens through the minter. It
// implements fosite's oauth2.AccessTokenStrategy; the "signature" fosite
// passes to storage is the token's jti.
type jwtStrategy struct {
	minter   *minter
	verifier TokenVerifier
}

// AccessTokenSignature implements oauth2.AccessTokenStrategy.
func (s *jwtStrategy) AccessTokenSignature(_ context.Context, token string) string {
	c, err := s.verifier.VerifyAccessToken(token)
	if err != nil {
		return ""
	}
	return c.JTI
}

// GenerateAccessToken implements oauth2.AccessTokenStrategy.
func (s *jwtStrategy) GenerateAccessToken(_ context.Context, req fosite.Requester) (string, string, error) {
	g, sess, err := grantOf(req)
	if err != nil {
		return "", "", err
	}
	tok, claims, err := s.minter.sign(g, s.minter.now())
	if err != nil {
		return "", "", err
	}
	sess.JTI = claims.JTI
	return tok, claims.JTI, nil
}

// ValidateAccessToken implements oauth2.AccessTokenStrategy.
func (s *jwtStrategy) ValidateAccessToken(_ context.Context, _ fosite.Requester, token string) error {
	if _, err := s.verifier.VerifyAccessToken(token); err != nil {
		return fosite.ErrTokenExpired.WithWrap(err)
	}
	return nil
}

// mintRecorder is fosite's access token storage: CreateAccessTokenSession
// records the mint through the minter (token.minted, durable before the
// answer; group-committed, many per durable write).
type mintRecorder struct {
	minter *minter
}

// CreateAccessTokenSession implements oauth2.AccessTokenStorage.
func (m *mintRecorder) CreateAccessTokenSession(ctx context.Context, jti string, req fosite.Requester) error {
	g, _, err := grantOf(req)
	if err != nil {
		return err
	}
	return m.minter.record(ctx, g, jti, m.minter.now())
}

// MintedEvent returns the token.minted that CreateAccessTokenSession
// would append for the token jti of req, for a caller that appends it
// together with events of its own (package idp: a redemption or a
// rotation and its token, in one group-committed message).
func (m *mintRecorder) MintedEvent(jti string, req fosite.Requester) (events.Event, error) {
	g, _, err := grantOf(req)
	if err != nil {
		return events.Event{}, err
	}
	return mintedEvent(g, jti, m.minter.now())
}

// GetAccessTokenSession implements oauth2.AccessTokenStorage. Access tokens
// are self-contained JWTs: nothing looks them up by signature.
func (m *mintRecorder) GetAccessTokenSession(context.Context, string, fosite.Session) (fosite.Requester, error) {
	return nil, fosite.ErrNotFound
}

// DeleteAccessTokenSession implements oauth2.AccessTokenStorage; tokens are
// revoked through the revocation endpoint's event instead.
func (m *mintRecorder) DeleteAccessTokenSession(context.Context, string) error {
	return nil
}
