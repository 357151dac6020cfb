package oauth

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/sealing"
)

// Config wires the OAuth 2.0 endpoints.
type Config struct {
	Issuer         string
	AccessTokenTTL time.Duration
	// Master gives the client-secret HMAC key and fosite's global secret.
	Master *sealing.Keys
	Log    events.Log
	Store  projections.Reader
	// CatchUp waits until the projections have applied the whole log.
	CatchUp func(ctx context.Context) error
	// ControlSeq reads the control stream's last sequence, coalescing
	// concurrent callers (events.Watermark). Default: CatchUp is used.
	ControlSeq func(ctx context.Context) (uint64, error)
	// WaitFor waits until the projections have applied seq of stream s.
	WaitFor func(ctx context.Context, s events.Stream, seq uint64) error
	Signer  TokenSigner
	Keys    KeyVerifier
	Now     func() time.Time
	// Logger receives the causes of server_error answers. Default: discard.
	Logger *slog.Logger
	// Limits are the abuse limits of the endpoints. nil: none.
	Limits *httpapi.Limiter
	// Metrics receives the endpoints' series. Default: none.
	Metrics prometheus.Registerer
	// RevocationGrace is how long past its token's expiry a revocation is
	// kept (recorded in token.revoked). 0: events.DefaultRevocationGrace.
	RevocationGrace time.Duration
	// Mints group-commits token.minted events (a started
	// events.GroupCommitter on Log; its owner closes it).
	Mints *events.GroupCommitter
	// ConsoleScopes are the scopes the console's built-in client may
	// request (authz.TenantAdminScopes; ConsoleClientID).
	ConsoleScopes []string
}

// revocationGraceSeconds is the grace_seconds of a token.revoked.
func (c Config) revocationGraceSeconds() int64 {
	if c.RevocationGrace <= 0 {
		return int64(events.DefaultRevocationGrace / time.Second)
	}
	return int64(max(c.RevocationGrace/time.Second, 1))
}

// Server serves /v1/oauth/*: fosite does the protocol; its storage appends
// events and reads projections.
type Server struct {
	cfg      Config
	provider *fosite.Fosite
	checker  *TokenChecker
	clients  *clientStore
	minter   *minter
	hasher   *SecretHasher
	fc       *fosite.Config
	strategy *jwtStrategy
	// grants are the grant types the token endpoint serves.
	grants []string
	// catchUps counts the waits for the log of failed client
	// authentications (authenticate).
	catchUps prometheus.Counter
	// refresh revokes and describes refresh tokens at the revocation and
	// introspection endpoints (RefreshTokensWith); nil: no grant issues
	// them.
	refresh RefreshTokens
}

// New builds the fosite provider with Gatehouse's client store, JWT
// access-token strategy and event-backed token storage.
func New(cfg Config) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	hasher, err := NewSecretHasher(cfg.Master)
	if err != nil {
		return nil, err
	}
	global := cfg.Master.Key(sealing.FositeGlobalSecret)
	verifier := newAccessVerifier(cfg.Keys, cfg.Issuer, cfg.Now)
	o := &Server{
		cfg:     cfg,
		checker: &TokenChecker{Verifier: verifier, Store: cfg.Store, Console: cfg.ConsoleScopes},
		clients: &clientStore{store: cfg.Store, now: cfg.Now, issuer: cfg.Issuer, console: cfg.ConsoleScopes},
		minter:  &minter{signer: cfg.Signer, issuer: cfg.Issuer, audience: []string{cfg.Issuer}, group: cfg.Mints, now: cfg.Now},
		hasher:  hasher,
		grants:  slices.Clone(tokenGrants),
	}
	reg := cfg.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	o.catchUps = httpapi.RegisterCollector(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gatehouse", Subsystem: "oauth", Name: "client_auth_catchups_total",
		Help: "Failed client authentications retried after catching up with the log: every one, whether the client_id is unknown or the secret wrong.",
	}))
	fc := &fosite.Config{
		AccessTokenLifespan:      cfg.AccessTokenTTL,
		AccessTokenIssuer:        cfg.Issuer,
		TokenURL:                 cfg.Issuer + tokenPath,
		ScopeStrategy:            fosite.ExactScopeStrategy,
		AudienceMatchingStrategy: fosite.DefaultAudienceMatchingStrategy,
		ClientSecretsHasher:      hasher,
		GlobalSecret:             global,
	}
	auth := &clientAuthenticator{clients: o.clients, hasher: hasher,
		assertions: &assertionVerifier{issuer: cfg.Issuer, log: cfg.Log, now: cfg.Now}}
	fc.ClientAuthenticationStrategy = auth.authenticate
	o.provider = fosite.NewOAuth2Provider(o.clients, fc)
	strategy := &jwtStrategy{minter: o.minter, verifier: verifier}
	o.fc, o.strategy = fc, strategy
	helper := &oauth2.HandleHelper{AccessTokenStrategy: strategy, AccessTokenStorage: &mintRecorder{minter: o.minter}, Config: fc}
	fc.TokenEndpointHandlers.Append(&oauth2.ClientCredentialsGrantHandler{HandleHelper: helper, Config: fc})
	return o, nil
}

// Checker returns the token checker the platform API authenticates with.
func (o *Server) Checker() *TokenChecker { return o.checker }

// Hasher returns the client-secret hasher.
func (o *Server) Hasher() *SecretHasher { return o.hasher }

// Register adds the OAuth routes to e.
func (o *Server) Register(e *echo.Echo) {
	e.POST(tokenPath, o.limitAuth("token", o.singleParams(o.token)), httpapi.NoStore, o.corsForClient)
	e.POST("/v1/oauth/introspect", o.limitAuth("introspect", o.singleParams(o.tokenRoute(tokenEndpoint{inactive: o.introspectInactive, active: o.introspect}))), httpapi.NoStore)
	e.POST("/v1/oauth/revoke", o.limitAuth("revoke", o.singleParams(o.tokenRoute(tokenEndpoint{publicClients: true, inactive: o.revokeInactive, active: o.revoke}))), httpapi.NoStore, o.corsForClient)
	// A browser app's preflight (cors.go); introspection is for
	// confidential clients, which are no browser apps.
	for _, path := range []string{tokenPath, "/v1/oauth/revoke"} {
		e.OPTIONS(path, Preflight("POST"))
	}
}
