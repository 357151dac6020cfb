package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/events"
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
func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// jwtStrategy issues RFC 9068 JWT access tokens. It implements fosite's
// oauth2.AccessTokenStrategy; the "signature" fosite passes to storage is
// the token's jti.
type jwtStrategy struct {
	signer   TokenSigner
	verifier TokenVerifier
	issuer   string
	audience []string
	now      func() time.Time
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
	sess, ok := req.GetSession().(*Session)
	if !ok {
		return "", "", fmt.Errorf("authz: session is %T", req.GetSession())
	}
	now := s.now()
	exp := sess.GetExpiresAt(fosite.AccessToken)
	if exp.IsZero() {
		return "", "", fmt.Errorf("authz: access token without expiry")
	}
	claims := AccessClaims{
		Issuer:    s.issuer,
		Subject:   sess.Subject,
		Audience:  s.audience,
		ClientID:  req.GetClient().GetID(),
		Scope:     strings.Join(req.GetGrantedScopes(), " "),
		JTI:       newJTI(),
		IssuedAt:  now.Unix(),
		ExpiresAt: exp.Unix(),
		Tenant:    sess.Tenant,
	}
	tok, err := s.signer.Sign(claims, "at+jwt")
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
// appends token.minted and returns once it is durable, so no token is
// answered without its event (DESIGN.md invariant 2). Mints go through a
// group committer: many per durable write.
type mintRecorder struct {
	group *events.GroupCommitter
	now   func() time.Time
}

// CreateAccessTokenSession implements oauth2.AccessTokenStorage.
func (m *mintRecorder) CreateAccessTokenSession(ctx context.Context, jti string, req fosite.Requester) error {
	sess, ok := req.GetSession().(*Session)
	if !ok {
		return fmt.Errorf("authz: session is %T", req.GetSession())
	}
	ev, err := events.New(
		events.Ref{Tenant: sess.Tenant, Type: events.AggToken, ID: sess.AppID},
		events.Actor{Kind: events.ActorApp, ID: sess.AppID},
		m.now(),
		&events.TokenMinted{
			JTI:       jti,
			AppID:     sess.AppID,
			ClientID:  req.GetClient().GetID(),
			Subject:   sess.Subject,
			GrantType: sess.GrantType,
			Scopes:    req.GetGrantedScopes(),
			ExpiresAt: sess.GetExpiresAt(fosite.AccessToken).UTC(),
		})
	if err != nil {
		return err
	}
	_, err = m.group.Append(ctx, ev)
	return err
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
