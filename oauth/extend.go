package oauth

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/gatehouse/gatehouse/events"
)

// OIDCScopes are the OpenID Connect scopes: not catalog scopes (nothing
// of the platform API needs them; the catalog refuses their names) but
// requests about the person (openid: an ID token and userinfo;
// offline_access: a refresh token; profile and email, OIDC Core §5.4:
// the name and the e-mail address, which the ID token and userinfo carry
// with openid already). A client allowed the authorization_code grant may
// request them. profile and email are the standard scopes most relying
// parties ask for by default ("openid profile email"): without them here
// such a request was invalid_scope.
var OIDCScopes = []string{"openid", "offline_access", "profile", "email"}

// Extension is what the identity provider (package idp) needs to serve
// the person's grants on this server's provider, so that POST
// /v1/oauth/token serves every grant through one endpoint, one client
// authentication and one error writer.
type Extension struct {
	Provider *fosite.Fosite
	Config   *fosite.Config
	// AccessTokens and AccessStorage are the one mint path: the JWT
	// strategy signs through the minter, the storage records token.minted.
	AccessTokens  oauth2.AccessTokenStrategy
	AccessStorage oauth2.AccessTokenStorage
	// MintedEvent is the token.minted AccessStorage would append, for a
	// caller appending it with its own events (one durable write).
	MintedEvent func(jti string, req fosite.Requester) (events.Event, error)
}

// Extend returns the provider, its configuration and the mint path, and
// lets the token endpoint accept grants (their handlers are appended to
// Config.TokenEndpointHandlers by the caller, before serving).
func (o *Server) Extend(grants ...string) Extension {
	for _, g := range grants {
		if !slices.Contains(o.grants, g) {
			o.grants = append(o.grants, g)
		}
	}
	rec := &mintRecorder{minter: o.minter}
	return Extension{Provider: o.provider, Config: o.fc,
		AccessTokens: o.strategy, AccessStorage: rec, MintedEvent: rec.MintedEvent}
}

// Grants are the grant types the token endpoint serves.
func (o *Server) Grants() []string { return slices.Clone(o.grants) }

// ClientByID returns the active client id, or fosite.ErrNotFound. In a
// token request it is the client the request authenticated as, when that
// is id (Memo): read once a request.
func (o *Server) ClientByID(ctx context.Context, id string) (*Client, error) {
	if cl := MemoOf(ctx).clientOf(id); cl != nil {
		return cl, nil
	}
	cl, err := o.clients.GetClient(ctx, id)
	if err != nil {
		return nil, err
	}
	return cl.(*Client), nil
}

// RevokeAccessToken revokes the access token jti of app appID (expiring
// at exp) through the one revocation path.
func (o *Server) RevokeAccessToken(ctx context.Context, tenant, appID, jti string, exp time.Time, actor events.Actor) error {
	return o.revokeToken(ctx, revocation{Tenant: tenant, AppID: appID, JTI: jti, ExpiresAt: exp, Actor: actor})
}

// UserSession is the session of a token issued to a person: Subject is
// the user id, Tenant and AppID the app's.
func UserSession(tenant, appID, userID, grantType string) *Session {
	return &Session{Subject: userID, Tenant: tenant, AppID: appID, GrantType: grantType}
}

// errInvalidGrantCause finds an invalid_grant a storage returned inside
// fosite's server_error (a lost redemption race is invalid_grant, RFC
// 9700 §4.5.3), so the client is told the truth.
func errInvalidGrantCause(err error) error {
	var rfc *fosite.RFC6749Error
	if errors.As(err, &rfc) && rfc.ErrorField == fosite.ErrServerError.ErrorField && errors.Is(err, fosite.ErrInvalidGrant) {
		return fosite.ErrInvalidGrant.WithHint("The authorization code or refresh token has already been used.")
	}
	return err
}
