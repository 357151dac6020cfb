package server

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/webhooks"
)

// envPrefix starts every configuration variable.
const EnvPrefix = "GATEHOUSE_"

// masterKeyLen is the length of the master key in bytes.
const masterKeyLen = 32

// Config is the configuration of `gatehouse serve` (API.md "Operations").
// Each field has a GATEHOUSE_* variable and a matching flag; a flag wins
// over the variable, the variable over the default (see settings).
type Config struct {
	Addr                  string
	Issuer                string
	DataDir               string
	NATSURL               string // empty: embedded JetStream in DataDir
	NATSCreds             string
	NATSTLSCA             string
	NATSTLSCert           string
	NATSTLSKey            string
	NATSReplicas          int
	DatabaseURL           string // empty: in-memory projections
	DatabaseSchema        string
	MasterKey             string // base64; empty: DataDir/master.key
	BootstrapClientID     string
	BootstrapClientSecret string
	AccessTokenTTL        time.Duration
	KeyRotationPeriod     time.Duration
	SigningAlg            string
	// IDTokenAlgs are the algorithms of ID tokens, the default
	// id_token_signed_response_alg first (GATEHOUSE_ID_TOKEN_ALGS).
	IDTokenAlgs          []string
	WebhookAllowPrivate  bool
	WebhookRetrySchedule []time.Duration
	WebhookTimeout       time.Duration
	LogLevel             slog.Level
	StreamPrefix         string
	ShutdownTimeout      time.Duration
	// Retention (README "Retention"): recorded in the events that start
	// what it bounds, so a rebuild keeps what the live server kept.
	IdempotencyRetention     time.Duration
	WebhookDeliveryKeep      int
	WebhookDeliveryRetention time.Duration
	RevocationGrace          time.Duration
	WebhooksPerApp           int
	PasswordHashConcurrency  int
	// The identity provider (package idp).
	SessionTTL           time.Duration
	PARTTL               time.Duration
	RefreshTokenTTL      time.Duration
	RefreshTokenIdleTTL  time.Duration
	LoginFailures        int
	LoginWindow          time.Duration
	CredentialsPerTenant int
	// HighVolumeMaxAge is how long the high-volume stream keeps events
	// (events.Config.HighVolumeMaxAge), and so vault.Vault.Retain.
	HighVolumeMaxAge time.Duration
	// GraphQLMaxDepth and GraphQLMaxCost cap a GraphQL operation.
	GraphQLMaxDepth int
	GraphQLMaxCost  int
	// The credential proxy (package proxy): requests per second and burst
	// per credential on each instance (0: no limit).
	ProxyRate, ProxyBurst int
	Rate                  RateConfig
}

// RateConfig is the abuse limits (GATEHOUSE_RATE_*; API.md
// "Authentication of the platform API").
type RateConfig struct {
	Enabled         bool
	Client          int // requests/s per authenticated client, OAuth endpoints
	Platform        int // requests/s per authenticated client, platform API
	Failures        int // failed client authentications per window per client_id and address
	AddressFailures int // failed authentications per window per address
	Window          time.Duration
	Exempt          []string // client_ids without a request budget
}

// setting is one configuration value: its variable (without the prefix),
// default, help text, and how its text is stored in a Config. parse
// changes the Config only when the text is valid.
type setting struct {
	env, def, help string
	parse          func(c *Config, v string) error
}

// settings lists every configuration value, in the order help shows them.
func settings() []setting {
	return []setting{
		{"ADDR", "127.0.0.1:8080", "host:port the HTTP server listens on (loopback by default: listening elsewhere is explicit)", text(func(c *Config) *string { return &c.Addr })},
		{"ISSUER", "", "public base URL: the iss of tokens and the base of every endpoint; empty follows the listen address (http://ADDR)", text(func(c *Config) *string { return &c.Issuer })},
		{"DATA_DIR", "./data", "directory of the embedded event store and the generated master key", text(func(c *Config) *string { return &c.DataDir })},
		{"NATS_URL", "", "NATS server URL(s), comma-separated; empty runs an embedded JetStream server in DATA_DIR", text(func(c *Config) *string { return &c.NATSURL })},
		{"NATS_CREDS", "", "NATS credentials file (with NATS_URL)", text(func(c *Config) *string { return &c.NATSCreds })},
		{"NATS_TLS_CA", "", "PEM file of the CAs that sign the NATS servers' certificates (with NATS_URL)", text(func(c *Config) *string { return &c.NATSTLSCA })},
		{"NATS_TLS_CERT", "", "PEM client certificate for NATS (with NATS_TLS_KEY)", text(func(c *Config) *string { return &c.NATSTLSCert })},
		{"NATS_TLS_KEY", "", "PEM private key of NATS_TLS_CERT", text(func(c *Config) *string { return &c.NATSTLSKey })},
		{"NATS_REPLICAS", "1", "replicas of each stream the server creates: 1 on one node, 3 in a cluster", integer(func(c *Config) *int { return &c.NATSReplicas })},
		{"DATABASE_URL", "", "PostgreSQL URL of the projections; empty keeps them in memory, rebuilt from the log at start", text(func(c *Config) *string { return &c.DatabaseURL })},
		{"DATABASE_SCHEMA", DefaultSchema, "PostgreSQL schema of the projections (with DATABASE_URL); serve migrates it at start", text(func(c *Config) *string { return &c.DatabaseSchema })},
		{"MASTER_KEY", "", "base64 of 32 random bytes that encrypt secrets at rest; empty uses DATA_DIR/master.key, generated on first start", text(func(c *Config) *string { return &c.MasterKey })},
		{"BOOTSTRAP_CLIENT_ID", "", "client_id of the bootstrap admin app created on an empty log; empty generates one", text(func(c *Config) *string { return &c.BootstrapClientID })},
		{"BOOTSTRAP_CLIENT_SECRET", "", "its client secret (at least 32 characters); empty generates one, printed once", text(func(c *Config) *string { return &c.BootstrapClientSecret })},
		{"ACCESS_TOKEN_TTL", "1h", "default lifetime of access tokens (1m to 24h)", duration(func(c *Config) *time.Duration { return &c.AccessTokenTTL })},
		{"KEY_ROTATION_PERIOD", "720h", "how often the signing key rotates", duration(func(c *Config) *time.Duration { return &c.KeyRotationPeriod })},
		{"SIGNING_ALG", "ES256", "algorithm of new signing keys: ES256, RS256 or EdDSA", text(func(c *Config) *string { return &c.SigningAlg })},
		{"ID_TOKEN_ALGS", "RS256,ES256", "algorithms ID tokens may be signed with, comma-separated, each ES256, RS256 or EdDSA, RS256 among them; the first signs the ID tokens of an app that names none (OpenID Connect requires RS256 and makes it the default); a family of signing keys is kept for each", parseIDTokenAlgs},
		{"WEBHOOK_ALLOW_PRIVATE", "false", "allow webhook URLs that resolve to loopback, private or link-local addresses", boolean(func(c *Config) *bool { return &c.WebhookAllowPrivate })},
		{"WEBHOOK_RETRY_SCHEDULE", "5s,5m,30m,2h,5h,10h,10h", "delays between webhook delivery attempts, comma-separated", parseSchedule},
		{"WEBHOOK_TIMEOUT", "15s", "how long one webhook delivery attempt may take, the answer included", duration(func(c *Config) *time.Duration { return &c.WebhookTimeout })},
		{"LOG_LEVEL", "info", "debug, info, warn or error (debug adds one line per request)", parseLogLevel},
		{"STREAM_PREFIX", "gh", "prefix of the JetStream stream and subject names", text(func(c *Config) *string { return &c.StreamPrefix })},
		{"SHUTDOWN_TIMEOUT", "15s", "how long shutdown waits for in-flight requests", duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
		{"RATE_LIMIT", "true", "enforce the abuse limits below (false: none)", boolean(func(c *Config) *bool { return &c.Rate.Enabled })},
		{"RATE_CLIENT", "25000", "requests per second one authenticated client may make to the token, introspection and revocation endpoints (0: no limit)", integer(func(c *Config) *int { return &c.Rate.Client })},
		{"RATE_PLATFORM", "1000", "requests per second one authenticated client may make to the platform API (0: no limit)", integer(func(c *Config) *int { return &c.Rate.Platform })},
		{"RATE_FAILURES", "20", "failed client authentications per RATE_WINDOW for one client_id from one address before 429 (0: no limit)", integer(func(c *Config) *int { return &c.Rate.Failures })},
		{"RATE_ADDRESS_FAILURES", "100", "failed authentications per RATE_WINDOW from one address before 429 (0: no limit)", integer(func(c *Config) *int { return &c.Rate.AddressFailures })},
		{"RATE_WINDOW", "1m", "period of the failure budgets: a spent one gets one back every RATE_WINDOW/budget", duration(func(c *Config) *time.Duration { return &c.Rate.Window })},
		{"RATE_EXEMPT", "", "comma-separated client_ids no request budget applies to", parseExempt},
		{"IDEMPOTENCY_RETENTION", "24h", "how long an Idempotency-Key's answer is replayed and its record kept (1s to 720h)", duration(func(c *Config) *time.Duration { return &c.IdempotencyRetention })},
		{"WEBHOOK_DELIVERY_RETENTION_COUNT", "1000", "how many of each webhook's most recent deliveries are kept (1 to 100000)", integer(func(c *Config) *int { return &c.WebhookDeliveryKeep })},
		{"WEBHOOK_DELIVERY_RETENTION_AGE", "168h", "how long a delivered or failed delivery is kept after its last attempt (1s to 2160h)", duration(func(c *Config) *time.Duration { return &c.WebhookDeliveryRetention })},
		{"REVOCATION_GRACE", "5m", "how long a token's revocation is kept past the token's expiry: more than the clock skew between instances (1s to 24h)", duration(func(c *Config) *time.Duration { return &c.RevocationGrace })},
		{"WEBHOOKS_PER_APP", "50", "how many webhook subscriptions one app may have (1 to 10000; beyond: 403 quota_exceeded)", integer(func(c *Config) *int { return &c.WebhooksPerApp })},
		{"SESSION_TTL", "12h", "how long a browser session of the hosted login lasts (1m to 30 days)", duration(func(c *Config) *time.Duration { return &c.SessionTTL })},
		{"PAR_TTL", "60s", "how long a request_uri of the pushed authorization request endpoint may be used (1s to 60s)", duration(func(c *Config) *time.Duration { return &c.PARTTL })},
		{"REFRESH_TOKEN_TTL", "720h", "how long a refresh-token family lives from its code's redemption; rotation does not extend it (1m to 80 days)", duration(func(c *Config) *time.Duration { return &c.RefreshTokenTTL })},
		{"REFRESH_TOKEN_IDLE_TTL", "168h", "a refresh token unused this long is refused; 0: no idle timeout (0 to 80 days)", duration(func(c *Config) *time.Duration { return &c.RefreshTokenIdleTTL })},
		{"LOGIN_FAILURES", "10", "failed logins allowed per account and per source address in each GATEHOUSE_LOGIN_WINDOW (1 to 10000)", integer(func(c *Config) *int { return &c.LoginFailures })},
		{"LOGIN_WINDOW", "15m", "the window of GATEHOUSE_LOGIN_FAILURES (1s to 24h)", duration(func(c *Config) *time.Duration { return &c.LoginWindow })},
		{"HIGH_VOLUME_MAX_AGE", "2160h", "how long the high-volume stream keeps events (token mints and revocations, deliveries, the vault's refresh states, re-appended half way through it); at least GATEHOUSE_REFRESH_TOKEN_TTL, GATEHOUSE_SESSION_TTL, GATEHOUSE_IDEMPOTENCY_RETENTION and a webhook delivery's life (its retry waits, Retry-After up to 24h each, then GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_AGE) (24h to 87600h)", duration(func(c *Config) *time.Duration { return &c.HighVolumeMaxAge })},
		{"CREDENTIALS_PER_TENANT", "1000", "how many upstream credentials (the vault) one tenant may have (1 to 1000000; beyond: 403 quota_exceeded)", integer(func(c *Config) *int { return &c.CredentialsPerTenant })},
		{"GRAPHQL_MAX_DEPTH", "8", "the deepest selection a GraphQL operation may make (2 to 100; deeper: validation_error)", integer(func(c *Config) *int { return &c.GraphQLMaxDepth })},
		{"GRAPHQL_MAX_COST", "50000", "the largest cost of a GraphQL operation: its fields, a page's counted first times (100 to 10000000; above: validation_error)", integer(func(c *Config) *int { return &c.GraphQLMaxCost })},
		{"PROXY_RATE", "0", "requests per second one credential may make through the proxy on each instance; 0: no limit (0 to 1000000; beyond: 429 rate_limited)", integer(func(c *Config) *int { return &c.ProxyRate })},
		{"PROXY_BURST", "0", "the burst of GATEHOUSE_PROXY_RATE; 0: the rate (0 to 1000000)", integer(func(c *Config) *int { return &c.ProxyBurst })},
		{"PASSWORD_HASH_CONCURRENCY", "0", "how many argon2id password hashes (64 MiB each) are computed at once; 0: GOMAXPROCS (0 to 256; a request waiting over 5 s for one: 503)", integer(func(c *Config) *int { return &c.PasswordHashConcurrency })},
	}
}

// flagName is the flag of a variable: ACCESS_TOKEN_TTL → access-token-ttl.
func flagName(env string) string {
	return strings.ToLower(strings.ReplaceAll(env, "_", "-"))
}

func text(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		*field(c) = v
		return nil
	}
}

func duration(field func(*Config) *time.Duration) func(*Config, string) error {
	return parsed(field, time.ParseDuration, "a duration (like 90s, 15m, 1h)")
}

func integer(field func(*Config) *int) func(*Config, string) error {
	return parsed(field, strconv.Atoi, "a whole number")
}

func boolean(field func(*Config) *bool) func(*Config, string) error {
	return parsed(field, strconv.ParseBool, "true or false")
}

// parsed sets the field to the value parse reads; a value it refuses is
// "not <what>".
func parsed[T any](field func(*Config) *T, parse func(string) (T, error), what string) func(*Config, string) error {
	return func(c *Config, v string) error {
		x, err := parse(v)
		if err != nil {
			return fmt.Errorf("%q is not %s", v, what)
		}
		*field(c) = x
		return nil
	}
}

func parseSchedule(c *Config, v string) error {
	var out []time.Duration
	for part := range strings.SplitSeq(v, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			return fmt.Errorf("%q is not a comma-separated list of positive durations (like 5s,5m,1h)", v)
		}
		out = append(out, d)
	}
	c.WebhookRetrySchedule = out
	return nil
}

func parseIDTokenAlgs(c *Config, v string) error {
	c.IDTokenAlgs = nil
	for part := range strings.SplitSeq(v, ",") {
		c.IDTokenAlgs = append(c.IDTokenAlgs, strings.TrimSpace(part))
	}
	return nil
}

func parseExempt(c *Config, v string) error {
	c.Rate.Exempt = nil
	for part := range strings.SplitSeq(v, ",") {
		if id := strings.TrimSpace(part); id != "" {
			c.Rate.Exempt = append(c.Rate.Exempt, id)
		}
	}
	return nil
}

func parseLogLevel(c *Config, v string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		return fmt.Errorf("%q is not one of debug, info, warn, error", v)
	}
	c.LogLevel = l
	return nil
}

// flagValue records a flag's text and whether the command line set it.
type flagValue struct {
	value string
	set   bool
}

func (f *flagValue) String() string { return f.value }

func (f *flagValue) Set(v string) error {
	f.value, f.set = v, true
	return nil
}

// errHelp reports that -h or --help was asked for.
var ErrHelp = flag.ErrHelp

// loadConfig reads the configuration from lookup (os.LookupEnv) and the
// serve flags in args, then validates it. Every problem is reported, in
// one *configError, at once. A variable set to the empty string counts as
// unset. -h returns errHelp.
func LoadConfig(args []string, lookup func(string) (string, bool)) (Config, error) {
	fs, flags := configFlags()
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, ErrHelp
		}
		return Config{}, UsageError{err}
	}
	if fs.NArg() > 0 {
		return Config{}, UsageError{fmt.Errorf("serve takes no arguments, got %q", fs.Arg(0))}
	}
	var cfg Config
	var errs ConfigError
	for _, s := range settings() {
		if err := s.parse(&cfg, s.def); err != nil {
			panic(fmt.Sprintf("default of %s%s: %v", EnvPrefix, s.env, err))
		}
		raw, label, ok := source(s, flags[s.env], lookup)
		if !ok {
			continue
		}
		if err := s.parse(&cfg, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", label, err))
		}
	}
	var invalid ConfigError
	if errors.As(cfg.Validate(), &invalid) {
		errs = append(errs, invalid...)
	}
	if len(errs) > 0 {
		return cfg, errs
	}
	return cfg, nil
}

// source returns the text that overrides s's default, and what to call it
// in an error: the flag when set, else the variable when not empty.
func source(s setting, f *flagValue, lookup func(string) (string, bool)) (raw, label string, ok bool) {
	if f.set {
		return f.value, "--" + flagName(s.env), true
	}
	if v, ok := lookup(EnvPrefix + s.env); ok && v != "" {
		return v, EnvPrefix + s.env, true
	}
	return "", "", false
}

// configFlags returns the serve flag set (silent: callers print usage) and
// its values by variable.
func configFlags() (*flag.FlagSet, map[string]*flagValue) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	flags := map[string]*flagValue{}
	for _, s := range settings() {
		flags[s.env] = &flagValue{}
		fs.Var(flags[s.env], flagName(s.env), s.help)
	}
	return fs, flags
}

// printConfigHelp writes the serve settings: flag, variable, default, help.
func PrintConfigHelp(w io.Writer) {
	for _, s := range settings() {
		def := s.def
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(w, "  --%s  (%s%s, default %s)\n      %s\n", flagName(s.env), EnvPrefix, s.env, def, s.help)
	}
}

// configError lists every problem of a configuration.
type ConfigError []error

func (e ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration:")
	for _, err := range e {
		b.WriteString("\n  " + err.Error())
	}
	return b.String()
}

// Validate reports every setting that cannot work, each naming its
// GATEHOUSE_* variable, as one error (a configError), or nil.
func (c Config) Validate() error {
	var errs ConfigError
	bad := map[string]bool{} // the settings reported
	check := func(env string, msg string) {
		if msg != "" {
			bad[env] = true
			errs = append(errs, fmt.Errorf("%s%s: %s", EnvPrefix, env, msg))
		}
	}
	check("ADDR", checkAddr(c.Addr))
	if c.Issuer != "" {
		check("ISSUER", checkIssuer(c.Issuer))
	}
	check("DATA_DIR", nonEmpty(c.DataDir))
	check("NATS_URL", checkNATSURL(c.NATSURL))
	check("NATS_CREDS", checkNATSFile(c.NATSCreds, c.NATSURL, " (the embedded server needs no credentials)"))
	check("NATS_TLS_CA", checkNATSFile(c.NATSTLSCA, c.NATSURL, ""))
	check("NATS_TLS_CERT", checkNATSFile(c.NATSTLSCert, c.NATSURL, ""))
	check("NATS_TLS_KEY", checkNATSFile(c.NATSTLSKey, c.NATSURL, ""))
	if (c.NATSTLSCert == "") != (c.NATSTLSKey == "") {
		check("NATS_TLS_CERT", "and GATEHOUSE_NATS_TLS_KEY go together")
	}
	check("NATS_REPLICAS", checkReplicas(c.NATSReplicas, c.NATSURL))
	check("DATABASE_URL", CheckDatabaseURL(c.DatabaseURL))
	check("DATABASE_SCHEMA", checkSchema(c.DatabaseSchema))
	check("MASTER_KEY", checkMasterKey(c.MasterKey))
	check("BOOTSTRAP_CLIENT_ID", checkBootstrapID(c.BootstrapClientID, c.BootstrapClientSecret))
	check("BOOTSTRAP_CLIENT_SECRET", checkBootstrapSecret(c.BootstrapClientID, c.BootstrapClientSecret))
	check("ACCESS_TOKEN_TTL", between(c.AccessTokenTTL, time.Minute, 24*time.Hour))
	check("KEY_ROTATION_PERIOD", checkRotation(c.KeyRotationPeriod, c.AccessTokenTTL))
	check("SIGNING_ALG", oneOf(c.SigningAlg, "ES256", "RS256", "EdDSA"))
	check("ID_TOKEN_ALGS", checkIDTokenAlgs(c.IDTokenAlgs))
	check("WEBHOOK_RETRY_SCHEDULE", checkSchedule(c.WebhookRetrySchedule))
	check("WEBHOOK_TIMEOUT", between(c.WebhookTimeout, 100*time.Millisecond, 5*time.Minute))
	check("STREAM_PREFIX", checkPrefix(c.StreamPrefix))
	check("SHUTDOWN_TIMEOUT", between(c.ShutdownTimeout, time.Millisecond, time.Hour))
	check("RATE_CLIENT", atLeast(c.Rate.Client, 0))
	check("RATE_PLATFORM", atLeast(c.Rate.Platform, 0))
	check("RATE_FAILURES", atLeast(c.Rate.Failures, 0))
	check("RATE_ADDRESS_FAILURES", atLeast(c.Rate.AddressFailures, 0))
	check("RATE_WINDOW", between(c.Rate.Window, time.Second, 24*time.Hour))
	check("IDEMPOTENCY_RETENTION", between(c.IdempotencyRetention, time.Second, 720*time.Hour))
	check("WEBHOOK_DELIVERY_RETENTION_COUNT", intBetween(c.WebhookDeliveryKeep, 1, 100_000))
	check("WEBHOOK_DELIVERY_RETENTION_AGE", between(c.WebhookDeliveryRetention, time.Second, 2160*time.Hour))
	check("REVOCATION_GRACE", between(c.RevocationGrace, time.Second, 24*time.Hour))
	check("WEBHOOKS_PER_APP", intBetween(c.WebhooksPerApp, 1, 10_000))
	check("PASSWORD_HASH_CONCURRENCY", intBetween(c.PasswordHashConcurrency, 0, 256))
	check("SESSION_TTL", between(c.SessionTTL, time.Minute, 30*24*time.Hour))
	check("PAR_TTL", between(c.PARTTL, time.Second, time.Minute))
	check("REFRESH_TOKEN_TTL", between(c.RefreshTokenTTL, time.Minute, 80*24*time.Hour))
	if c.RefreshTokenIdleTTL != 0 {
		check("REFRESH_TOKEN_IDLE_TTL", between(c.RefreshTokenIdleTTL, time.Second, 80*24*time.Hour))
	}
	check("LOGIN_FAILURES", intBetween(c.LoginFailures, 1, 10000))
	check("LOGIN_WINDOW", between(c.LoginWindow, time.Second, 24*time.Hour))
	check("CREDENTIALS_PER_TENANT", intBetween(c.CredentialsPerTenant, 1, 1_000_000))
	check("HIGH_VOLUME_MAX_AGE", checkHighVolumeMaxAge(c, bad))
	check("GRAPHQL_MAX_DEPTH", intBetween(c.GraphQLMaxDepth, 2, 100))
	check("GRAPHQL_MAX_COST", intBetween(c.GraphQLMaxCost, 100, 10_000_000))
	check("PROXY_RATE", intBetween(c.ProxyRate, 0, 1_000_000))
	check("PROXY_BURST", intBetween(c.ProxyBurst, 0, 1_000_000))
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func intBetween(n, lo, hi int) string {
	if n < lo || n > hi {
		return fmt.Sprintf("%d must be from %d to %d", n, lo, hi)
	}
	return ""
}

func oneOf(v string, allowed ...string) string {
	if slices.Contains(allowed, v) {
		return ""
	}
	return "must be one of " + strings.Join(allowed, ", ")
}

// checkIDTokenAlgs: signing keys' algorithms, each once, RS256 among them
// (OIDC Discovery 1.0 §3: id_token_signing_alg_values_supported "MUST"
// include RS256).
func checkIDTokenAlgs(algs []string) string {
	for i, a := range algs {
		if msg := oneOf(a, "ES256", "RS256", "EdDSA"); msg != "" {
			return fmt.Sprintf("%q %s", a, msg)
		}
		if slices.Contains(algs[:i], a) {
			return fmt.Sprintf("lists %s twice", a)
		}
	}
	if !slices.Contains(algs, "RS256") {
		return "must include RS256 (OpenID Connect Discovery 1.0 §3)"
	}
	return ""
}

func nonEmpty(v string) string {
	if strings.TrimSpace(v) == "" {
		return "must not be empty"
	}
	return ""
}

func checkAddr(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q is not host:port (like :8080 or 127.0.0.1:8080)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("%q: port must be a number from 0 to 65535", addr)
	}
	return ""
}

// checkIssuer admits an absolute http(s) URL without user info, query or
// fragment (RFC 8414 §2), and without a trailing slash, so that issuer +
// "/v1/oauth/token" is a clean URL and "iss" matches it exactly.
func checkIssuer(issuer string) string {
	u, err := url.Parse(issuer)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return fmt.Sprintf("%q must be an absolute URL (like https://auth.example.com)", issuer)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q must use http or https", issuer)
	case u.User != nil:
		return fmt.Sprintf("%q must not hold user info", issuer)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(issuer, "#"):
		return fmt.Sprintf("%q must not have a query or fragment", issuer)
	case strings.HasSuffix(issuer, "/"):
		return fmt.Sprintf("%q must not end with a slash", issuer)
	}
	return ""
}

func checkNATSURL(v string) string {
	if v == "" {
		return ""
	}
	for part := range strings.SplitSeq(v, ",") {
		u, err := url.Parse(strings.TrimSpace(part))
		if err != nil || u.Host == "" || !slices.Contains([]string{"nats", "tls", "ws", "wss"}, u.Scheme) {
			return fmt.Sprintf("%q is not a NATS URL (like nats://127.0.0.1:4222)", part)
		}
	}
	return ""
}

// checkNATSFile checks a file setting of the NATS connection; why says
// why the embedded server does without it.
func checkNATSFile(path, natsURL, why string) string {
	if path == "" {
		return ""
	}
	if natsURL == "" {
		return "is only used with GATEHOUSE_NATS_URL" + why
	}
	if _, err := os.Stat(path); err != nil {
		return fmt.Sprintf("cannot read %s: %v", path, errors.Unwrap(err))
	}
	return ""
}

func checkReplicas(n int, natsURL string) string {
	switch {
	case n < 1 || n > 5:
		return "must be 1 to 5"
	case n > 1 && natsURL == "":
		return "must be 1 with the embedded server (one node)"
	}
	return ""
}

// checkSchema admits a plain PostgreSQL identifier.
func checkSchema(v string) string {
	if !schemaName.MatchString(v) {
		return fmt.Sprintf("%q must be a lower-case identifier (letters, digits, _; at most 32 characters: rebuild adds a suffix)", v)
	}
	return ""
}

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,31}$`)

func CheckDatabaseURL(v string) string {
	if v == "" {
		return ""
	}
	if !strings.Contains(v, "://") {
		if strings.Contains(v, "=") {
			return "" // key=value connection string
		}
		return "is neither a postgres:// URL nor a key=value connection string"
	}
	u, err := url.Parse(v)
	if err != nil || !slices.Contains([]string{"postgres", "postgresql"}, u.Scheme) {
		return "must be a postgres:// or postgresql:// URL"
	}
	return ""
}

func checkMasterKey(v string) string {
	if v == "" {
		return ""
	}
	if _, err := decodeMasterKey(v); err != nil {
		return err.Error()
	}
	return ""
}

// decodeMasterKey decodes base64 (standard or URL alphabet, padded or not)
// of exactly 32 bytes.
func decodeMasterKey(v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil && len(b) == masterKeyLen {
			return b, nil
		}
	}
	return nil, errors.New("not base64 of 32 bytes (make one with: openssl rand -base64 32)")
}

func checkBootstrapID(id, secret string) string {
	if id == "" && secret != "" {
		return "must be set with GATEHOUSE_BOOTSTRAP_CLIENT_SECRET"
	}
	return ""
}

func checkBootstrapSecret(id, secret string) string {
	switch {
	case secret == "" && id != "":
		return "must be set with GATEHOUSE_BOOTSTRAP_CLIENT_ID"
	case secret != "" && len(secret) < 32:
		return "must be at least 32 characters"
	}
	return ""
}

func atLeast(n, lo int) string {
	if n < lo {
		return fmt.Sprintf("%d is less than %d", n, lo)
	}
	return ""
}

func between(d, lo, hi time.Duration) string {
	if d < lo || d > hi {
		return fmt.Sprintf("%s is not between %s and %s", d, lo, hi)
	}
	return ""
}

// checkHighVolumeMaxAge: the stream keeps the events of everything
// reduced from it for that thing's whole life, or a restart, which
// rebuilds the projections from the log, serves another state
// (invariant 6): a refresh-token family (GATEHOUSE_REFRESH_TOKEN_TTL), a
// browser session, an idempotency record, and a webhook delivery from
// its first event to its last attempt (each wait up to its delay and
// jitter, or the endpoint's Retry-After up to webhooks.MaxRetryAfter)
// and its retention after it (attempts whose delivery's first event the
// stream forgot would fail the rebuild). A setting reported already
// (bad) is not compared.
func checkHighVolumeMaxAge(c Config, bad map[string]bool) string {
	age := c.HighVolumeMaxAge
	if msg := between(age, 24*time.Hour, 87600*time.Hour); msg != "" {
		return msg
	}
	delivery := c.WebhookDeliveryRetention
	for _, d := range c.WebhookRetrySchedule {
		delivery += max(d+d/5, webhooks.MaxRetryAfter)
	}
	for _, n := range []struct {
		env, what string
		d         time.Duration
	}{
		{"REFRESH_TOKEN_TTL", "tokens still in use", c.RefreshTokenTTL},
		{"SESSION_TTL", "sessions still in use", c.SessionTTL},
		{"IDEMPOTENCY_RETENTION", "answers still replayed", c.IdempotencyRetention},
	} {
		if !bad[n.env] && age < n.d {
			return fmt.Sprintf("%s is shorter than %s%s (%s): the stream would forget %s", age, EnvPrefix, n.env, n.d, n.what)
		}
	}
	if !bad["WEBHOOK_RETRY_SCHEDULE"] && !bad["WEBHOOK_DELIVERY_RETENTION_AGE"] && age < delivery {
		return fmt.Sprintf("%s is shorter than a webhook delivery's life (%s: GATEHOUSE_WEBHOOK_RETRY_SCHEDULE's waits, each at most its delay plus 20 %% or a Retry-After of %s, then GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_AGE): the stream would forget deliveries still kept",
			age, delivery, webhooks.MaxRetryAfter)
	}
	return ""
}

func checkRotation(period, ttl time.Duration) string {
	if period < time.Hour {
		return fmt.Sprintf("%s is shorter than 1h", period)
	}
	if period <= ttl {
		return fmt.Sprintf("%s must be longer than GATEHOUSE_ACCESS_TOKEN_TTL (%s)", period, ttl)
	}
	return ""
}

func checkSchedule(s []time.Duration) string {
	if len(s) == 0 || len(s) > 20 {
		return "must list 1 to 20 delays"
	}
	return ""
}

func checkPrefix(p string) string {
	if p == "" {
		return "must not be empty"
	}
	if err := (events.Config{Prefix: p}).Validate(); err != nil {
		return strings.TrimPrefix(err.Error(), "events: ")
	}
	return ""
}

// UsageError is a mistake in the command line.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// DefaultSchema is GATEHOUSE_DATABASE_SCHEMA's default.
const DefaultSchema = "gatehouse"
