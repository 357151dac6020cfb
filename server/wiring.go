package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/catalog"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/identity"
	"github.com/gatehouse/gatehouse/idp"
	"github.com/gatehouse/gatehouse/jwks"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/projections/memory"
	"github.com/gatehouse/gatehouse/projections/postgres"
	"github.com/gatehouse/gatehouse/proxy"
	"github.com/gatehouse/gatehouse/sealing"
	"github.com/gatehouse/gatehouse/vault"
	"github.com/gatehouse/gatehouse/webhooks"
)

// jwksMaxAge is how long clients may cache the JWKS; a new key is
// published at least this long before it signs.
const jwksMaxAge = 5 * time.Minute

// requestWait bounds how long a request waits for the projections to
// apply its write (read-your-writes) or to catch up with the log (a read
// that misses) when its context has no deadline.
const requestWait = 10 * time.Second

// maxProjectionLag is how far behind the log /readyz lets the projections
// fall before the instance reports itself not ready.
const maxProjectionLag = 10_000

// buildComponents is the wiring of the server on top of the event log and
// the HTTP plumbing: the projections and their projector, the bootstrap,
// the signing keys and their rotator, the OAuth endpoints, the platform
// API. Workers start in this order: the group committers, projector,
// bootstrap, key rotator, webhook dispatcher, clock ticker.
func buildComponents(ctx context.Context, d deps) (*Components, error) {
	store, err := openStore(ctx, d)
	if err != nil {
		return nil, err
	}
	c, err := wire(d, store)
	if err != nil {
		return nil, errors.Join(err, store.Close())
	}
	return c, nil
}

// wire builds the components on store; the last closer closes it.
func wire(d deps, store projections.Store) (*Components, error) {
	proj, err := projections.New(projections.Config{Log: d.Log, Store: store, Logger: d.Logger})
	if err != nil {
		return nil, err
	}
	if d.Metrics != nil {
		d.Metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gatehouse_projections_writer",
			Help: "1 while this instance writes the projections (always, for in-memory ones), 0 while it follows another.",
		}, func() float64 {
			if proj.Leading() {
				return 1
			}
			return 0
		}))
	}
	// Requests wait for the projections at most requestWait, then answer
	// 503 (the writer or the store is away); workers wait on.
	reqs := proj.Bounded(requestWait)
	keys := jwks.ProjectedKeys(proj, store)
	signingKeys := d.Keys.Purpose(sealing.SigningKey)
	ring, err := jwks.NewKeyring(signingKeys, keys, jwks.WithPrimary(d.Config.SigningAlg))
	if err != nil {
		return nil, err
	}
	rot, err := jwks.NewRotator(d.Log, keys, signingKeys, jwks.Config{
		Alg: d.Config.SigningAlg, IDTokenAlgs: d.Config.IDTokenAlgs, RotationPeriod: d.Config.KeyRotationPeriod, JWKSCacheMaxAge: jwksMaxAge, MaxTokenTTL: 24 * time.Hour, Now: d.Now,
	}, jwks.WithKeyring(ring), jwks.WithLogger(d.Logger))
	if err != nil {
		return nil, err
	}
	limits := newLimiter(d)
	// The group committers: token mints, deliveries, published events.
	mints := events.NewGroupCommitter(d.Log, events.DefaultGroupBatch, events.DefaultGroupWorkers)
	commits := events.NewGroupCommitter(d.Log, events.DefaultGroupBatch, events.DefaultGroupWorkers)
	publishes := events.NewGroupCommitter(d.Log, 100, events.DefaultGroupWorkers)
	oauthSrv, err := oauth.New(oauth.Config{
		Issuer: d.Config.Issuer, AccessTokenTTL: d.Config.AccessTokenTTL, Master: d.Keys,
		Log: d.Log, Store: store, CatchUp: reqs.CatchUp, WaitFor: reqs.WaitFor,
		ControlSeq: events.NewWatermark(d.Log, events.Control).Get, Signer: ring, Keys: ring, Now: d.Now, Logger: d.Logger, Limits: limits, Metrics: registerer(d), Mints: mints,
		RevocationGrace: d.Config.RevocationGrace, ConsoleScopes: authz.TenantAdminScopes(),
	})
	if err != nil {
		return nil, err
	}
	auth := &oauth.Authenticator{Checker: oauthSrv.Checker(), Limits: limits}
	idem, err := authz.NewIdempotency(authz.Idempotency{Log: d.Log, Store: store, WaitFor: reqs.WaitFor, Now: d.Now,
		Retention: d.Config.IdempotencyRetention}, d.Keys)
	if err != nil {
		return nil, err
	}
	catalog := &catalog.Tenant{Store: store} // the variable shadows the package from here on
	// What the platform resources' handlers read, append and wait through.
	deps := authz.Deps{Log: d.Log, Store: store, WaitFor: reqs.WaitFor, CatchUp: reqs.CatchUp, Now: d.Now, Idem: idem}
	apps := &authz.Apps{Deps: deps, Hasher: oauthSrv.Hasher(), Catalog: catalog, DefaultTTL: int(d.Config.AccessTokenTTL.Seconds()), IDTokenAlgs: d.Config.IDTokenAlgs, Tokens: oauthSrv}
	catalogAPI := &authz.Catalog{Deps: deps, Entries: catalog}
	feed := &authz.Feed{Log: d.Log}
	hasher := identity.NewHasher(d.Config.PasswordHashConcurrency, 0)
	users := &identity.Users{Deps: deps, Hasher: hasher, Sealer: d.Keys.Purpose(sealing.PasswordHash)}
	verifyIDToken := func(tok string) ([]byte, error) {
		claims, _, err := ring.VerifyType(tok, "JWT")
		return claims, err
	}
	people, err := idp.New(idp.Config{Issuer: d.Config.Issuer, Log: d.Log, Store: store, WaitFor: reqs.WaitFor, CatchUp: reqs.CatchUp, Packed: mints.AppendAll,
		OAuth: oauthSrv, Hasher: hasher, Keys: d.Keys, Catalog: catalog, SessionTTL: d.Config.SessionTTL, PARTTL: d.Config.PARTTL,
		IDSigner: func(alg string) (idp.IDSigner, error) {
			s, err := ring.ActiveFor(alg)
			if err != nil {
				return nil, err
			}
			return s, nil
		},
		IDTokenAlg:    d.Config.IDTokenAlgs[0],
		VerifyIDToken: verifyIDToken,
		RefreshTTL:    d.Config.RefreshTokenTTL, RefreshIdleTTL: d.Config.RefreshTokenIdleTTL,
		LoginFailures: d.Config.LoginFailures, LoginWindow: d.Config.LoginWindow, Now: d.Now, Logger: d.Logger, Metrics: registerer(d)})
	if err != nil {
		return nil, err
	}
	// The list reads as functions (GraphQL and the console call them in
	// process); Webhooks is set once made, below.
	reads := &authz.Reads{Auth: auth, Apps: apps}
	consoleUI, err := consoleRoutes(d, people, reads, oauthSrv, store, verifyIDToken)
	if err != nil {
		return nil, err
	}
	users.Gone = people.RevokeUser // a disabled or deleted user's grants die (issue 14)
	disc, err := oauth.NewDiscovery(d.Config.Issuer, &oauth.CodeFlow{Grants: []string{"authorization_code", "refresh_token", proxy.GrantTypeTokenExchange}, IDTokenAlgs: d.Config.IDTokenAlgs})
	if err != nil {
		return nil, err
	}
	webhookSecrets := d.Keys.Purpose(sealing.WebhookSecret)
	// The vault's outbound client is the webhooks' SSRF-guarded one.
	credVault := &vault.Vault{Log: vault.WithFault(d.Log, os.Getenv), Store: store, WaitFor: reqs.WaitFor, WorkerWaitFor: proj.WaitFor, CatchUp: reqs.CatchUp,
		Secrets: d.Keys.Purpose(sealing.CredentialSecret), Tokens: d.Keys.Purpose(sealing.CredentialTokens), VaultKeys: d.Keys.Purpose(sealing.VaultKey),
		StateKey:     d.Keys.Key(vault.StateKeyLabel),
		Client:       webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: d.Config.WebhookAllowPrivate, Timeout: d.Config.WebhookTimeout}),
		AllowPrivate: d.Config.WebhookAllowPrivate, Issuer: d.Config.Issuer, PerTenant: d.Config.CredentialsPerTenant,
		Instance: events.NewID("inst"), Retain: d.Config.HighVolumeMaxAge, Now: d.Now, Logger: d.Logger, Metrics: vault.NewMetrics(registerer(d))}
	credAPI := &vault.API{Vault: credVault, Idem: idem}
	refresher := &vault.Refresher{V: credVault}
	proxyRoutes, proxyUsage, proxyLane := wireProxy(d, oauthSrv, credVault, mints, auth)
	dispatcher := webhooks.New(webhooks.Config{
		Log: d.Log, Queue: d.Log, Commit: commits.Append, Store: store, WaitFor: proj.WaitFor,
		Scope: catalog.EventTypeScope,
		OpenSecret: func(id string, s projections.WebhookSecret) ([]byte, error) {
			return webhookSecrets.Open(webhooks.SecretAAD(id, s.ID), s.Sealed)
		},
		Send:    webhooks.NewSender(webhooks.NewClient(webhooks.ClientConfig{AllowPrivate: d.Config.WebhookAllowPrivate, Timeout: d.Config.WebhookTimeout})),
		Retries: webhooks.Backoff(d.Config.WebhookRetrySchedule, nil),
		Lease:   d.Config.WebhookTimeout + 15*time.Second,
		Timeout: d.Config.WebhookTimeout,
		Keep:    d.Config.WebhookDeliveryKeep, Retention: d.Config.WebhookDeliveryRetention,
		Now: d.Now, Logger: d.Logger,
	})
	hooks := &authz.Webhooks{Deps: deps, Catalog: catalog, Publish: publishes.Append,
		ControlSeq: events.NewWatermark(d.Log, events.Control).Get,
		Dispatcher: dispatcher, Secrets: webhookSecrets, AllowPrivate: d.Config.WebhookAllowPrivate,
		TestTimeout: d.Config.WebhookTimeout + 5*time.Second, PerApp: d.Config.WebhooksPerApp}
	reads.Webhooks = hooks
	tenants := &authz.Tenants{Log: d.Log, Store: store, WaitFor: reqs.WaitFor, Hasher: oauthSrv.Hasher(), Now: d.Now, Idem: idem, DefaultTTL: int(d.Config.AccessTokenTTL.Seconds())}
	keyAPI := &authz.Keys{Rotator: rot, WaitFor: reqs.WaitFor, Idem: idem}
	jwksAPI := &oauth.JWKS{Set: ring, MaxAge: jwksMaxAge}
	boot := &bootstrapper{d: d, hasher: oauthSrv.Hasher(), catchUp: proj.CatchUp, store: store, appended: BootstrapAppended}
	return &Components{
		Routes: []func(e *echo.Echo){
			oauthSrv.Register,
			people.Register,
			disc.Register,
			jwksAPI.Register,
			func(e *echo.Echo) { keyAPI.Register(e, auth) },
			func(e *echo.Echo) { tenants.Register(e, auth) },
			func(e *echo.Echo) { apps.Register(e.Group("/v1/platform"), auth) },
			func(e *echo.Echo) { catalogAPI.Register(e.Group("/v1/platform"), auth) },
			func(e *echo.Echo) { feed.Register(e.Group("/v1/platform"), auth) },
			func(e *echo.Echo) { users.Register(e.Group("/v1/platform"), auth) },
			func(e *echo.Echo) { hooks.Register(e, auth) },
			func(e *echo.Echo) { credAPI.Register(e, auth) },
			graphqlRoutes(d, deps, auth, reads),
			proxyRoutes,
			func(e *echo.Echo) { authz.RegisterOpenAPI(e, d.Config.Issuer) },
			consoleUI,
		},
		Ready: []httpapi.ReadinessCheck{{Name: "projections", Check: func(ctx context.Context) error {
			return proj.Health(ctx).Ready(maxProjectionLag)
		}}, {Name: "keys", Check: func(context.Context) error {
			_, err := ring.Active() // none until a round of the rotator succeeded
			return err
		}}},
		// The committers start first and close last: every other worker
		// and every request may append through them.
		Workers: []worker{mints, commits, publishes, proj, boot, rot, dispatcher, refresher, proxyUsage,
			&projections.ClockTicker{Log: d.Log, Store: store, Now: d.Now, Logger: d.Logger, Every: projections.ClockTickEvery}},
		Closers: []func() error{store.Close},
		Store:   store,
		OAuth:   oauthSrv,
		Lane:    proxyLane,
	}, nil
}

// newLimiter is the abuse limits of GATEHOUSE_RATE_*, nil when
// GATEHOUSE_RATE_LIMIT=false.
func newLimiter(d deps) *httpapi.Limiter {
	r := d.Config.Rate
	if !r.Enabled {
		return nil
	}
	return httpapi.NewLimiter(httpapi.RateLimits{
		Client: float64(r.Client), Platform: float64(r.Platform), Failures: r.Failures, AddressFailures: r.AddressFailures,
		Window: r.Window, Exempt: r.Exempt, Now: d.Now, Logger: d.Logger, Metrics: registerer(d),
	})
}

// registerer is d's metrics registry as a Registerer: nil when there is
// none (a nil *Registry in an interface would not be nil).
func registerer(d deps) prometheus.Registerer {
	if d.Metrics == nil {
		return nil
	}
	return d.Metrics
}

// openStore opens the projections' store: in memory (rebuilt from the log
// at start), or PostgreSQL with GATEHOUSE_DATABASE_URL, migrated first
// (under an advisory lock, so that instances starting together migrate
// once).
func openStore(ctx context.Context, d deps) (projections.Store, error) {
	if d.Config.DatabaseURL == "" {
		return memory.New(), nil
	}
	s, err := postgres.Open(ctx, postgres.Config{URL: d.Config.DatabaseURL, Schema: d.Config.DatabaseSchema, Migrate: true})
	if err != nil {
		return nil, fmt.Errorf("projections store (GATEHOUSE_DATABASE_URL): %w", err)
	}
	d.Logger.Info("projections in PostgreSQL", "schema", s.Schema())
	return s, nil
}

// BootstrapAppended is bootstrapper.appended: nil but in tests (a test
// of cmd/gatehouse interrupts a first start with it).
var BootstrapAppended func() error

// bootstrapper is the worker that bootstraps an empty log at start and
// tells the operator how to get a first token.
type bootstrapper struct {
	d       deps
	hasher  *oauth.SecretHasher
	catchUp func(ctx context.Context) error
	store   projections.Reader
	// appended, when set, runs right after the bootstrap's append (tests
	// interrupt the start there).
	appended func() error
}

// Start implements worker. A generated secret is persisted, sealed, before
// the append and removed once printed (pendingSecret), so an interrupt in
// between loses nothing: the next start prints it.
func (b *bootstrapper) Start(ctx context.Context) error {
	cfg := authz.BootstrapConfig{ClientID: b.d.Config.BootstrapClientID, ClientSecret: b.d.Config.BootstrapClientSecret,
		TokenTTLSeconds: int(b.d.Config.AccessTokenTTL.Seconds())}
	generated := cfg.ClientSecret == ""
	resumed := false
	if generated {
		var err error
		cfg.ClientID = "admin"
		if cfg.ClientSecret, resumed, err = pendingSecret(b.d.Config.DataDir, b.d.Keys.Purpose(sealing.BootstrapSecret)); err != nil {
			return fmt.Errorf("bootstrap secret: %w", err)
		}
	}
	res, err := authz.Bootstrap(ctx, b.d.Log, b.hasher, cfg, b.d.Now())
	if err != nil {
		return err
	}
	if b.appended != nil {
		if err := b.appended(); err != nil {
			return err
		}
	}
	if err := b.catchUp(ctx); err != nil {
		return err
	}
	if !generated {
		printFirstToken(b.d.Stdout, b.d.Config, res)
		return nil
	}
	return b.printGenerated(ctx, res, cfg, resumed)
}

// printGenerated prints a generated secret that the log holds, this
// start's or one an interrupted start left pending, then forgets it.
func (b *bootstrapper) printGenerated(ctx context.Context, res authz.BootstrapResult, cfg authz.BootstrapConfig, resumed bool) error {
	if !res.Created && resumed {
		live, err := stillLive(ctx, b.store, b.hasher, cfg.ClientID, cfg.ClientSecret)
		if err != nil {
			return err
		}
		if live {
			res = authz.BootstrapResult{Created: true, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret}
			fmt.Fprintln(b.d.Stdout, "\nAn earlier first start was interrupted before it printed the admin secret; here it is.")
		}
	}
	printFirstToken(b.d.Stdout, b.d.Config, res)
	err := os.Remove(filepath.Join(b.d.Config.DataDir, PendingSecretFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Close implements worker.
func (b *bootstrapper) Close() error { return nil }

// printFirstToken prints, on the start that created the admin app, its
// credentials (the only time the secret is shown) and a curl that mints a
// token with them.
func printFirstToken(w io.Writer, cfg Config, res authz.BootstrapResult) {
	if !res.Created {
		return
	}
	fmt.Fprintf(w, "\nBootstrapped tenant %q with an admin app.\n", authz.DefaultTenant)
	if cfg.BootstrapClientSecret == "" {
		fmt.Fprintf(w, "  client_id:     %s\n  client_secret: %s   (shown once: keep it now)\n", res.ClientID, res.ClientSecret)
	}
	secret := res.ClientSecret
	if cfg.BootstrapClientSecret != "" {
		secret = "$GATEHOUSE_BOOTSTRAP_CLIENT_SECRET"
	}
	fmt.Fprintf(w, "Mint a first access token:\n  curl -s -u \"%s:%s\" -d grant_type=client_credentials %s/v1/oauth/token\n\n",
		res.ClientID, secret, cfg.Issuer)
}
