package idp

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/pkce"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/identity"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/sealing"
)

// CodeTTL is how long an authorization code lives (RFC 9700 §4.5: short;
// API.md: ≤ 60 s).
const CodeTTL = 60 * time.Second

// Config wires the identity provider.
type Config struct {
	Issuer string
	Log    events.Log
	Store  projections.Reader
	// WaitFor and CatchUp are the request-bounded waits for the
	// projections (read-your-writes, a miss that may be another
	// instance's write).
	WaitFor func(ctx context.Context, s events.Stream, seq uint64) error
	CatchUp func(ctx context.Context) error
	// Packed appends events without expectation, together, through a
	// group committer (the mint path's, events.GroupCommitter.AppendAll):
	// one durable message acknowledges many callers; it returns the last
	// event's sequence. authz_code.issued goes this way (its grant id is
	// fosite's fresh random request id), and each redemption or rotation
	// with its token.minted (the log's order decides between two uses,
	// see grants). nil: an append of their own (Log.Append).
	Packed func(ctx context.Context, evs ...events.Event) (uint64, error)
	// OAuth is the OAuth server whose provider and token endpoint serve
	// the person's grants too.
	OAuth *oauth.Server
	// Hasher verifies passwords (argon2id, bounded concurrency).
	Hasher *identity.Hasher
	// Keys derives the session and CSRF keys and opens password hashes.
	Keys    *sealing.Keys
	Catalog *catalog.Tenant
	// IDSigner returns the key that signs ID tokens of algorithm alg now
	// (jwks.Keyring.ActiveFor: the active key of alg's family, or the
	// access tokens' while that family's first key is not published long
	// enough).
	IDSigner func(alg string) (IDSigner, error)
	// IDTokenAlg is the algorithm of an app's ID tokens when it names
	// none (OIDC Registration §2 id_token_signed_response_alg): the first
	// of GATEHOUSE_ID_TOKEN_ALGS, RS256 by default.
	IDTokenAlg string
	// VerifyIDToken checks an ID token's signature against the key set
	// (logout's id_token_hint) and returns its claims.
	VerifyIDToken func(token string) ([]byte, error)
	// SessionTTL is a browser session's lifetime (GATEHOUSE_SESSION_TTL).
	SessionTTL time.Duration
	// PARTTL is how long a pushed request_uri may be used
	// (GATEHOUSE_PAR_TTL, ≤ 60 s).
	PARTTL time.Duration
	// RefreshTTL and RefreshIdleTTL bound a refresh-token family
	// (GATEHOUSE_REFRESH_TOKEN_TTL, GATEHOUSE_REFRESH_TOKEN_IDLE_TTL).
	RefreshTTL     time.Duration
	RefreshIdleTTL time.Duration
	// LoginFailures failed logins per account and per address are allowed
	// per LoginWindow (GATEHOUSE_LOGIN_FAILURES, GATEHOUSE_LOGIN_WINDOW).
	LoginFailures int
	LoginWindow   time.Duration
	Now           func() time.Time
	Logger        *slog.Logger
	Metrics       prometheus.Registerer
}

// IdP is the person side of the identity provider: sessions, the hosted
// pages, the authorization endpoint and the storage of codes and
// refresh-token families.
type IdP struct {
	cfg      Config
	provider *fosite.Fosite
	// fc is the provider's configuration; codes makes and checks its
	// codes and refresh tokens (issueCode, the token endpoint's
	// handlers).
	fc        *fosite.Config
	codes     *codeTokens
	grants    *grants
	sessions  *sessions
	passwords *sealing.Sealer
	throttle  *throttle
	pages     *pages
	// dummy is a PHC string verified for unknown e-mails, so that a
	// login costs the same whether the account exists (made at the
	// first such login).
	dummy     string
	dummyOnce sync.Once
	dummyErr  error
	// appended is the highest high-volume sequence this instance's
	// packed appends reached: a code issued here a moment ago is applied
	// once the projection reaches it (grants.find), without asking the
	// log for its last sequence.
	appended atomic.Uint64
	// issued hands the codes issued here to their redemption here
	// (grants.find).
	issued *issuedCodes
}

// New builds the identity provider and registers its grant handlers on
// the OAuth server's provider.
func New(cfg Config) (*IdP, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.PARTTL <= 0 || cfg.PARTTL > PARTTL {
		cfg.PARTTL = PARTTL
	}
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = 30 * 24 * time.Hour
	}
	if cfg.LoginWindow <= 0 {
		cfg.LoginWindow = 15 * time.Minute
	}
	if cfg.LoginFailures <= 0 {
		cfg.LoginFailures = 10
	}
	reg := cfg.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	ext := cfg.OAuth.Extend("authorization_code", "refresh_token")
	p := &IdP{cfg: cfg, provider: ext.Provider, fc: ext.Config, passwords: cfg.Keys.Purpose(sealing.PasswordHash),
		issued: newIssuedCodes(cfg.Now, maxIssued)}
	p.grants = &grants{idp: p, mintedEvent: ext.MintedEvent}
	p.sessions = newSessions(p, cfg.Keys.Key(sealing.SessionHMAC), cfg.Keys.Key(sealing.CSRFKey))
	p.throttle = newThrottle(cfg.LoginFailures, cfg.LoginWindow, cfg.Now, reg)
	var err error
	if p.pages, err = newPages(); err != nil {
		return nil, err
	}
	configure(ext, p.grants, cfg)
	cfg.OAuth.RefreshTokensWith(p)
	return p, nil
}

// configure sets the provider's code-flow settings and appends fosite's
// authorization-code, PKCE and refresh handlers to the token endpoint.
// The authorization endpoint issues its codes itself (issueCode), with
// the same codes.
func configure(ext oauth.Extension, g *grants, cfg Config) {
	fc := ext.Config
	fc.AuthorizeCodeLifespan = CodeTTL
	fc.RefreshTokenLifespan = cfg.RefreshTTL
	fc.RefreshTokenScopes = []string{}
	fc.EnforcePKCEForPublicClients = true
	fc.EnablePKCEPlainChallengeMethod = false
	fc.SanitationWhiteList = []string{"redirect_uri", "code_challenge", "code_challenge_method", "nonce"}
	fc.OmitRedirectScopeParam = false
	fc.FormPostHTMLTemplate = formPostTemplate(cfg.Issuer)
	codes := newCodeTokens(fc) // fosite's HMACSHAStrategy's tokens, its HMACs pooled
	g.idp.codes = codes
	explicit := &oauth2.AuthorizeExplicitGrantHandler{
		AccessTokenStrategy: ext.AccessTokens, RefreshTokenStrategy: codes, AuthorizeCodeStrategy: codes,
		CoreStorage: g, TokenRevocationStorage: g, Config: fc,
	}
	pk := &pkce.Handler{AuthorizeCodeStrategy: codes, Storage: g, Config: fc}
	refresh := &oauth2.RefreshTokenGrantHandler{AccessTokenStrategy: ext.AccessTokens, RefreshTokenStrategy: codes,
		TokenRevocationStorage: g, Config: fc}
	fc.TokenEndpointHandlers.Append(explicit)
	fc.TokenEndpointHandlers.Append(pk)
	fc.TokenEndpointHandlers.Append(refreshScopes{refresh})
	fc.TokenEndpointHandlers.Append(&idTokens{idp: g.idp})
	configurePAR(fc, g.idp)
}

func (p *IdP) now() time.Time { return p.cfg.Now() }

// packed appends evs, without expectation, together (Config.Packed) and
// returns the last one's sequence once they are durable.
func (p *IdP) packed(ctx context.Context, evs ...events.Event) (uint64, error) {
	var seq uint64
	var err error
	if p.cfg.Packed != nil {
		seq, err = p.cfg.Packed(ctx, evs...)
	} else {
		var res events.Result
		res, err = p.cfg.Log.Append(ctx, events.Append{Events: evs})
		seq = res.Last()
	}
	if err == nil {
		for old := p.appended.Load(); seq > old && !p.appended.CompareAndSwap(old, seq); old = p.appended.Load() {
		}
	}
	return seq, err
}

// getPost: the endpoints a client may call by GET or by a form POST
// (RFC 6749 §3.1, OIDC Core §5.3.1, RP-Initiated Logout §2).
var getPost = []string{http.MethodGet, http.MethodPost}

// Register adds the hosted pages and the authorization endpoint.
func (p *IdP) Register(e *echo.Echo) {
	e.Match(getPost, "/v1/oauth/authorize", p.authorize, httpapi.NoStore)
	e.POST(oauth.PARPath, p.cfg.OAuth.PushedAuthorize(p.checkPushed), httpapi.NoStore)
	e.GET("/login", p.loginPage, httpapi.NoStore)
	e.POST("/login", p.login, httpapi.NoStore)
	e.GET("/consent", p.consentPage, httpapi.NoStore)
	e.POST("/consent", p.consent, httpapi.NoStore)
	e.GET("/logout", p.logoutPage, httpapi.NoStore)
	e.POST("/logout", p.logout, httpapi.NoStore)
	e.GET("/account", p.account, httpapi.NoStore)
	e.POST("/account/consents/withdraw", p.withdrawForm, httpapi.NoStore)
	e.GET("/idp/assets/style.css", p.style)
	e.Match(getPost, "/v1/oauth/userinfo", p.userinfo, httpapi.NoStore)
	e.OPTIONS("/v1/oauth/userinfo", oauth.Preflight("GET, POST"))
	e.Match(getPost, "/v1/oauth/logout", p.endSession, httpapi.NoStore)
	e.GET("/v1/me/consents", p.myConsents, httpapi.NoStore)
	e.DELETE("/v1/me/consents/:app_id", p.withdrawMine, httpapi.NoStore)
}

// errUserGone is a user who may not sign in or hold tokens any more:
// deleted or disabled.
var errUserGone = errors.New("idp: the user is disabled or deleted")

// activeUser returns the user id of tenant if they may act.
func (p *IdP) activeUser(ctx context.Context, tenant, id string) (projections.User, error) {
	u, err := projections.GetUser(ctx, p.cfg.Store, tenant, id)
	if errors.Is(err, projections.ErrNotFound) {
		return u, errUserGone
	}
	if err != nil {
		return u, err
	}
	if u.Disabled {
		return u, errUserGone
	}
	return u, nil
}

// lookAgain returns get's answer; when it misses (projections.ErrNotFound)
// it asks again once the projections have caught up with the log: what
// it reads may have been written on another instance a moment ago.
func lookAgain[T any](ctx context.Context, p *IdP, get func() (T, error)) (T, error) {
	v, err := get()
	if errors.Is(err, projections.ErrNotFound) {
		if err := p.cfg.CatchUp(ctx); err != nil {
			return v, err
		}
		v, err = get()
	}
	return v, err
}

// appName is how the pages and answers for a person name an app (the
// login and consent pages, the logout page, the account page, GET
// /v1/me/consents): its name, the console's built-in client
// (oauth.ConsoleAppID) "Gatehouse console", the client_id only when the
// app cannot be read (deleted since).
func (p *IdP) appName(ctx context.Context, tenant, appID, clientID string) string {
	if appID == oauth.ConsoleAppID {
		return "Gatehouse console"
	}
	if app, err := projections.GetApp(ctx, p.cfg.Store, tenant, appID); err == nil {
		return app.Name
	}
	return clientID
}

// revokeGrant appends authz_grant.revoked to grant id unless it is
// revoked already; reason "" picks code or refresh reuse. No expectation:
// redemptions and rotations are not on the grant's subject (they are
// packed), and two revocations at once are harmless (the projection keeps
// the first; one dedupe id for the grant makes the second a no-op while
// the log remembers it).
func (p *IdP) revokeGrant(ctx context.Context, id, reason string) error {
	_, err := command.Run(ctx, command.Deps{Log: p.cfg.Log, WaitFor: p.cfg.WaitFor}, func(ctx context.Context, _ int) (command.Decision, error) {
		g, err := projections.GetGrant(ctx, p.cfg.Store, id)
		if err != nil || g.Revoked != "" {
			return command.Decision{}, err
		}
		r := reason
		if r == "" {
			r = events.GrantRevokedRefreshReuse
			if len(g.Used) == 0 && g.Rotations == 0 {
				r = events.GrantRevokedCodeReuse
			}
		}
		ev, err := events.New(grantRef(g.Tenant, g.ID), idpActor, p.now(), &events.GrantRevoked{Reason: r})
		if err != nil {
			return command.Decision{}, err
		}
		return command.Decision{Append: events.Append{Events: []events.Event{ev}, DedupeID: "grant-revoked-" + g.ID}}, nil
	})
	if errors.Is(err, projections.ErrNotFound) {
		return fosite.ErrNotFound
	}
	return err
}

// revokeTokens revokes the grant's access tokens that have not expired,
// and the extra ones (jti → expiry; a token request that lost, its own).
func (p *IdP) revokeTokens(ctx context.Context, g projections.Grant, extra ...map[string]time.Time) error {
	now := p.now()
	var errs []error
	revoke := func(jti string, exp time.Time) error {
		if exp.After(now) {
			errs = append(errs, p.cfg.OAuth.RevokeAccessToken(ctx, g.Tenant, g.AppID, jti, exp, idpActor))
		}
		return nil
	}
	for _, m := range extra {
		for jti, exp := range m {
			_ = revoke(jti, exp)
		}
	}
	if g.ID != "" {
		errs = append(errs, projections.EachGrantToken(ctx, p.cfg.Store, g, revoke))
	}
	return errors.Join(errs...)
}

// revokeUserApp kills every grant of user for app (consent withdrawn;
// app "" for every app: the user disabled or deleted): authz_grant.revoked
// and token.revoked for their live access tokens. It reads only the
// user's grants (projections.EachGrantOf), not the tenant's.
func (p *IdP) revokeUserApp(ctx context.Context, tenant, user, appID, reason string) error {
	return projections.EachGrantOf(ctx, p.cfg.Store, tenant, user, appID, func(g projections.Grant) error {
		if g.Revoked != "" {
			return nil
		}
		return p.revokeFamily(ctx, g, reason)
	})
}

// revokeFamily revokes grant g for reason (its refresh tokens die:
// authz_grant.revoked; revoked already is no error) and its live access
// tokens (token.revoked).
func (p *IdP) revokeFamily(ctx context.Context, g projections.Grant, reason string) error {
	if err := p.revokeGrant(ctx, g.ID, reason); err != nil && !errors.Is(err, fosite.ErrNotFound) {
		return err
	}
	return p.revokeTokens(ctx, g)
}

// RevokeUser kills every grant of a user who was disabled or deleted
// (identity.Users calls it after the command): their refresh-token
// families are revoked (authz_grant.revoked, reason user_invalid) and
// their live access tokens revoked through the one revocation path. The
// refresh grant and the token check refuse such a user's tokens anyway;
// this records it. It is idempotent: a revoked grant is left alone.
func (p *IdP) RevokeUser(ctx context.Context, tenant, user string) error {
	return p.revokeUserApp(ctx, tenant, user, "", events.GrantRevokedUser)
}
