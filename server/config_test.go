package server

import (
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// env is a fake environment for loadConfig.
type env map[string]string

func (e env) lookup(k string) (string, bool) {
	v, ok := e[k]
	return v, ok
}

var validKey = base64.StdEncoding.EncodeToString(make([]byte, 32))

func defaultConfig() Config {
	return Config{
		Addr:                 "127.0.0.1:8080",
		Issuer:               "",
		DataDir:              "./data",
		NATSReplicas:         1,
		DatabaseSchema:       "gatehouse",
		AccessTokenTTL:       time.Hour,
		KeyRotationPeriod:    720 * time.Hour,
		SigningAlg:           "ES256",
		IDTokenAlgs:          []string{"RS256", "ES256"},
		WebhookRetrySchedule: []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour},
		WebhookTimeout:       15 * time.Second,
		LogLevel:             slog.LevelInfo,
		StreamPrefix:         "gh",
		ShutdownTimeout:      15 * time.Second,
		Rate:                 RateConfig{Enabled: true, Client: 25000, Platform: 1000, Failures: 20, AddressFailures: 100, Window: time.Minute},
		IdempotencyRetention: 24 * time.Hour, WebhookDeliveryKeep: 1000, WebhookDeliveryRetention: 168 * time.Hour, WebhooksPerApp: 50,
		RevocationGrace: 5 * time.Minute,
		SessionTTL:      12 * time.Hour, PARTTL: time.Minute, RefreshTokenTTL: 720 * time.Hour, RefreshTokenIdleTTL: 168 * time.Hour,
		LoginFailures: 10, LoginWindow: 15 * time.Minute,
		CredentialsPerTenant: 1000, HighVolumeMaxAge: 2160 * time.Hour,
		GraphQLMaxDepth: 8, GraphQLMaxCost: 50000,
	}
}

func TestLoadConfig(t *testing.T) {
	cases := []struct {
		name string
		env  env
		args []string
		want func(c *Config)
	}{
		{"defaults", nil, nil, func(*Config) {}},
		{"every variable", env{
			"GATEHOUSE_ADDR": "127.0.0.1:9000", "GATEHOUSE_ISSUER": "https://auth.example.com/gh",
			"GATEHOUSE_DATA_DIR": "/var/lib/gh", "GATEHOUSE_NATS_URL": "nats://a:4222,nats://b:4222",
			"GATEHOUSE_DATABASE_URL": "postgres://gh@db/gh", "GATEHOUSE_MASTER_KEY": validKey,
			"GATEHOUSE_NATS_REPLICAS": "3", "GATEHOUSE_DATABASE_SCHEMA": "gh_prod",
			"GATEHOUSE_BOOTSTRAP_CLIENT_ID": "admin", "GATEHOUSE_BOOTSTRAP_CLIENT_SECRET": strings.Repeat("s", 32),
			"GATEHOUSE_ACCESS_TOKEN_TTL": "15m", "GATEHOUSE_KEY_ROTATION_PERIOD": "24h", "GATEHOUSE_SIGNING_ALG": "EdDSA", "GATEHOUSE_ID_TOKEN_ALGS": " ES256 ,RS256",
			"GATEHOUSE_WEBHOOK_ALLOW_PRIVATE": "true", "GATEHOUSE_WEBHOOK_RETRY_SCHEDULE": "1s, 2s", "GATEHOUSE_WEBHOOK_TIMEOUT": "3s",
			"GATEHOUSE_LOG_LEVEL": "debug", "GATEHOUSE_STREAM_PREFIX": "test-1", "GATEHOUSE_SHUTDOWN_TIMEOUT": "2s",
			"GATEHOUSE_RATE_LIMIT": "false", "GATEHOUSE_RATE_CLIENT": "7", "GATEHOUSE_RATE_PLATFORM": "3", "GATEHOUSE_RATE_FAILURES": "4",
			"GATEHOUSE_RATE_ADDRESS_FAILURES": "9", "GATEHOUSE_RATE_WINDOW": "30s", "GATEHOUSE_RATE_EXEMPT": "bench, ci ,",
			"GATEHOUSE_IDEMPOTENCY_RETENTION": "1h", "GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_COUNT": "10",
			"GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_AGE": "2h", "GATEHOUSE_WEBHOOKS_PER_APP": "3", "GATEHOUSE_REVOCATION_GRACE": "30s",
			"GATEHOUSE_SESSION_TTL": "1h", "GATEHOUSE_REFRESH_TOKEN_TTL": "48h", "GATEHOUSE_REFRESH_TOKEN_IDLE_TTL": "0",
			"GATEHOUSE_LOGIN_FAILURES": "3", "GATEHOUSE_LOGIN_WINDOW": "1m",
			"GATEHOUSE_CREDENTIALS_PER_TENANT": "7", "GATEHOUSE_HIGH_VOLUME_MAX_AGE": "720h", "GATEHOUSE_GRAPHQL_MAX_DEPTH": "5", "GATEHOUSE_GRAPHQL_MAX_COST": "1000",
		}, nil, func(c *Config) {
			*c = Config{
				Addr: "127.0.0.1:9000", Issuer: "https://auth.example.com/gh", DataDir: "/var/lib/gh",
				NATSURL: "nats://a:4222,nats://b:4222", NATSReplicas: 3, DatabaseURL: "postgres://gh@db/gh", DatabaseSchema: "gh_prod", MasterKey: validKey,
				BootstrapClientID: "admin", BootstrapClientSecret: strings.Repeat("s", 32),
				AccessTokenTTL: 15 * time.Minute, KeyRotationPeriod: 24 * time.Hour, SigningAlg: "EdDSA", IDTokenAlgs: []string{"ES256", "RS256"}, WebhookAllowPrivate: true,
				WebhookRetrySchedule: []time.Duration{time.Second, 2 * time.Second}, WebhookTimeout: 3 * time.Second, LogLevel: slog.LevelDebug,
				StreamPrefix: "test-1", ShutdownTimeout: 2 * time.Second,
				Rate:                 RateConfig{Client: 7, Platform: 3, Failures: 4, AddressFailures: 9, Window: 30 * time.Second, Exempt: []string{"bench", "ci"}},
				IdempotencyRetention: time.Hour, WebhookDeliveryKeep: 10, WebhookDeliveryRetention: 2 * time.Hour, WebhooksPerApp: 3,
				RevocationGrace: 30 * time.Second,
				SessionTTL:      time.Hour, PARTTL: time.Minute, RefreshTokenTTL: 48 * time.Hour, LoginFailures: 3, LoginWindow: time.Minute,
				CredentialsPerTenant: 7, HighVolumeMaxAge: 720 * time.Hour, GraphQLMaxDepth: 5, GraphQLMaxCost: 1000,
			}
		}},
		{"flags", nil, []string{"--addr", "127.0.0.1:0", "-data-dir=/tmp/x", "--webhook-allow-private=true", "--log-level", "WARN", "--access-token-ttl=2h", "--key-rotation-period", "100h"},
			func(c *Config) {
				c.Addr, c.DataDir, c.WebhookAllowPrivate, c.LogLevel = "127.0.0.1:0", "/tmp/x", true, slog.LevelWarn
				c.AccessTokenTTL, c.KeyRotationPeriod = 2*time.Hour, 100*time.Hour
			}},
		{"flag wins over variable", env{"GATEHOUSE_ADDR": ":1", "GATEHOUSE_DATA_DIR": "/env"}, []string{"--addr", ":2"},
			func(c *Config) { c.Addr, c.DataDir = ":2", "/env" }},
		{"empty flag wins over variable", env{"GATEHOUSE_NATS_URL": "nats://a:4222"}, []string{"--nats-url="}, func(*Config) {}},
		{"empty variable is unset", env{"GATEHOUSE_ADDR": "", "GATEHOUSE_LOG_LEVEL": ""}, nil, func(*Config) {}},
		{"unrelated variables ignored", env{"ADDR": ":1", "GATEHOUSE_UNKNOWN": "x"}, nil, func(*Config) {}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LoadConfig(tc.args, tc.env.lookup)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			want := defaultConfig()
			tc.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("config\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		env  env
		args []string
		want []string // each must be a line of the error
	}{
		{"bad duration from variable", env{"GATEHOUSE_ACCESS_TOKEN_TTL": "soon"}, nil,
			[]string{`GATEHOUSE_ACCESS_TOKEN_TTL: "soon" is not a duration (like 90s, 15m, 1h)`}},
		{"bad duration from flag", nil, []string{"--shutdown-timeout", "x"},
			[]string{`--shutdown-timeout: "x" is not a duration (like 90s, 15m, 1h)`}},
		{"bad bool", env{"GATEHOUSE_WEBHOOK_ALLOW_PRIVATE": "yes please"}, nil,
			[]string{`GATEHOUSE_WEBHOOK_ALLOW_PRIVATE: "yes please" is not true or false`}},
		{"bad schedule", env{"GATEHOUSE_WEBHOOK_RETRY_SCHEDULE": "1s,,2s"}, nil,
			[]string{`GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: "1s,,2s" is not a comma-separated list of positive durations (like 5s,5m,1h)`}},
		{"negative schedule", env{"GATEHOUSE_WEBHOOK_RETRY_SCHEDULE": "1s,-2s"}, nil,
			[]string{`GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: "1s,-2s" is not a comma-separated list of positive durations (like 5s,5m,1h)`}},
		{"bad log level", env{"GATEHOUSE_LOG_LEVEL": "loud"}, nil,
			[]string{`GATEHOUSE_LOG_LEVEL: "loud" is not one of debug, info, warn, error`}},
		{"bad master key", env{"GATEHOUSE_MASTER_KEY": "c2hvcnQ="}, nil,
			[]string{"GATEHOUSE_MASTER_KEY: not base64 of 32 bytes (make one with: openssl rand -base64 32)"}},
		{"every problem at once", env{"GATEHOUSE_MASTER_KEY": "!!", "GATEHOUSE_ISSUER": "http://x/?q=1", "GATEHOUSE_LOG_LEVEL": "x"},
			[]string{"--addr", "nope"},
			[]string{
				`GATEHOUSE_LOG_LEVEL: "x" is not one of debug, info, warn, error`,
				`GATEHOUSE_ADDR: "nope" is not host:port (like :8080 or 127.0.0.1:8080)`,
				`GATEHOUSE_ISSUER: "http://x/?q=1" must not have a query or fragment`,
				"GATEHOUSE_MASTER_KEY: not base64 of 32 bytes (make one with: openssl rand -base64 32)",
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(tc.args, tc.env.lookup)
			var ce ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a configError", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if lines[0] != "invalid configuration:" || len(lines)-1 != len(tc.want) {
				t.Fatalf("error:\n%v\nwant %d problems", err, len(tc.want))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), "\n  "+w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "user.creds")
	if err := os.WriteFile(creds, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		change func(c *Config)
		want   string // "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"revocation grace", func(c *Config) { c.RevocationGrace = 0 }, "GATEHOUSE_REVOCATION_GRACE: 0s is not between 1s and 24h0m0s"},
		{"issuer with path", func(c *Config) { c.Issuer = "https://example.com/auth" }, ""},
		{"relative issuer", func(c *Config) { c.Issuer = "/auth" }, `GATEHOUSE_ISSUER: "/auth" must be an absolute URL`},
		{"issuer without host", func(c *Config) { c.Issuer = "https:///x" }, "GATEHOUSE_ISSUER: \"https:///x\" must be an absolute URL"},
		{"issuer scheme", func(c *Config) { c.Issuer = "ftp://example.com" }, "must use http or https"},
		{"issuer query", func(c *Config) { c.Issuer = "https://example.com?a=b" }, "must not have a query or fragment"},
		{"issuer empty query", func(c *Config) { c.Issuer = "https://example.com?" }, "must not have a query or fragment"},
		{"issuer fragment", func(c *Config) { c.Issuer = "https://example.com#x" }, "must not have a query or fragment"},
		{"issuer empty fragment", func(c *Config) { c.Issuer = "https://example.com#" }, "must not have a query or fragment"},
		{"issuer user", func(c *Config) { c.Issuer = "https://u:p@example.com" }, "must not hold user info"},
		{"issuer slash", func(c *Config) { c.Issuer = "https://example.com/" }, "must not end with a slash"},
		{"addr port", func(c *Config) { c.Addr = ":99999" }, "GATEHOUSE_ADDR: \":99999\": port must be a number from 0 to 65535"},
		{"data dir", func(c *Config) { c.DataDir = " " }, "GATEHOUSE_DATA_DIR: must not be empty"},
		{"nats url", func(c *Config) { c.NATSURL = "http://x:4222" }, `GATEHOUSE_NATS_URL: "http://x:4222" is not a NATS URL`},
		{"nats urls", func(c *Config) { c.NATSURL = "nats://a:4222, tls://b:4222" }, ""},
		{"creds without url", func(c *Config) { c.NATSCreds = creds }, "GATEHOUSE_NATS_CREDS: is only used with GATEHOUSE_NATS_URL"},
		{"creds with url", func(c *Config) { c.NATSURL, c.NATSCreds = "nats://a:4222", creds }, ""},
		{"creds missing", func(c *Config) { c.NATSURL, c.NATSCreds = "nats://a:4222", creds+".nope" }, "GATEHOUSE_NATS_CREDS: cannot read"},
		{"database url", func(c *Config) { c.DatabaseURL = "mysql://x/y" }, "GATEHOUSE_DATABASE_URL: must be a postgres:// or postgresql:// URL"},
		{"database dsn", func(c *Config) { c.DatabaseURL = "host=/run/postgresql dbname=gh" }, ""},
		{"database junk", func(c *Config) { c.DatabaseURL = "gh" }, "GATEHOUSE_DATABASE_URL: is neither"},
		{"database schema", func(c *Config) { c.DatabaseSchema = "Gate-house" }, "GATEHOUSE_DATABASE_SCHEMA: \"Gate-house\" must be a lower-case identifier"},
		{"replicas in a cluster", func(c *Config) { c.NATSURL, c.NATSReplicas = "nats://a:4222", 3 }, ""},
		{"replicas embedded", func(c *Config) { c.NATSReplicas = 3 }, "GATEHOUSE_NATS_REPLICAS: must be 1 with the embedded server"},
		{"replicas zero", func(c *Config) { c.NATSReplicas = 0 }, "GATEHOUSE_NATS_REPLICAS: must be 1 to 5"},
		{"tls ca", func(c *Config) { c.NATSURL, c.NATSTLSCA = "tls://a:4222", creds }, ""},
		{"tls ca without url", func(c *Config) { c.NATSTLSCA = creds }, "GATEHOUSE_NATS_TLS_CA: is only used with GATEHOUSE_NATS_URL"},
		{"tls cert without key", func(c *Config) { c.NATSURL, c.NATSTLSCert = "tls://a:4222", creds }, "GATEHOUSE_NATS_TLS_CERT: and GATEHOUSE_NATS_TLS_KEY go together"},
		{"master key url alphabet", func(c *Config) { c.MasterKey = base64.RawURLEncoding.EncodeToString(make([]byte, 32)) }, ""},
		{"master key 31 bytes", func(c *Config) { c.MasterKey = base64.StdEncoding.EncodeToString(make([]byte, 31)) }, "GATEHOUSE_MASTER_KEY: not base64 of 32 bytes"},
		{"bootstrap id alone", func(c *Config) { c.BootstrapClientID = "admin" }, "GATEHOUSE_BOOTSTRAP_CLIENT_SECRET: must be set with GATEHOUSE_BOOTSTRAP_CLIENT_ID"},
		{"bootstrap secret alone", func(c *Config) { c.BootstrapClientSecret = strings.Repeat("s", 32) }, "GATEHOUSE_BOOTSTRAP_CLIENT_ID: must be set with GATEHOUSE_BOOTSTRAP_CLIENT_SECRET"},
		{"bootstrap secret short", func(c *Config) { c.BootstrapClientID, c.BootstrapClientSecret = "a", "short" }, "GATEHOUSE_BOOTSTRAP_CLIENT_SECRET: must be at least 32 characters"},
		{"ttl short", func(c *Config) { c.AccessTokenTTL = time.Second }, "GATEHOUSE_ACCESS_TOKEN_TTL: 1s is not between 1m0s and 24h0m0s"},
		{"ttl long", func(c *Config) { c.AccessTokenTTL = 25 * time.Hour }, "GATEHOUSE_ACCESS_TOKEN_TTL: 25h0m0s is not between"},
		{"signing alg", func(c *Config) { c.SigningAlg = "HS256" }, "GATEHOUSE_SIGNING_ALG: must be one of ES256, RS256, EdDSA"},
		{"id token algs", func(c *Config) { c.IDTokenAlgs = []string{"EdDSA", "RS256"} }, ""},
		{"id token algs without RS256", func(c *Config) { c.IDTokenAlgs = []string{"ES256", "EdDSA"} }, "GATEHOUSE_ID_TOKEN_ALGS: must include RS256"},
		{"id token alg HS256", func(c *Config) { c.IDTokenAlgs = []string{"RS256", "HS256"} }, `GATEHOUSE_ID_TOKEN_ALGS: "HS256" must be one of ES256, RS256, EdDSA`},
		{"id token alg twice", func(c *Config) { c.IDTokenAlgs = []string{"RS256", "ES256", "RS256"} }, "GATEHOUSE_ID_TOKEN_ALGS: lists RS256 twice"},
		{"id token algs empty", func(c *Config) { c.IDTokenAlgs = []string{""} }, `GATEHOUSE_ID_TOKEN_ALGS: "" must be one of`},
		{"rotation short", func(c *Config) { c.KeyRotationPeriod = time.Minute }, "GATEHOUSE_KEY_ROTATION_PERIOD: 1m0s is shorter than 1h"},
		{"rotation below ttl", func(c *Config) { c.AccessTokenTTL, c.KeyRotationPeriod = 2*time.Hour, 2*time.Hour }, "must be longer than GATEHOUSE_ACCESS_TOKEN_TTL"},
		{"schedule empty", func(c *Config) { c.WebhookRetrySchedule = nil }, "GATEHOUSE_WEBHOOK_RETRY_SCHEDULE: must list 1 to 20 delays"},
		{"prefix", func(c *Config) { c.StreamPrefix = "GH.x" }, "GATEHOUSE_STREAM_PREFIX: "},
		{"prefix empty", func(c *Config) { c.StreamPrefix = "" }, "GATEHOUSE_STREAM_PREFIX: must not be empty"},
		{"shutdown", func(c *Config) { c.ShutdownTimeout = 0 }, "GATEHOUSE_SHUTDOWN_TIMEOUT: 0s is not between"},
		{"delivery count", func(c *Config) { c.WebhookDeliveryKeep = 0 }, "GATEHOUSE_WEBHOOK_DELIVERY_RETENTION_COUNT: 0 must be from 1"},
		{"webhooks per app", func(c *Config) { c.WebhooksPerApp = 0 }, "GATEHOUSE_WEBHOOKS_PER_APP: 0 must be from 1"},
		{"session ttl", func(c *Config) { c.SessionTTL = time.Second }, "GATEHOUSE_SESSION_TTL: 1s is not between"},
		{"refresh ttl", func(c *Config) { c.RefreshTokenTTL = 100 * 24 * time.Hour }, "GATEHOUSE_REFRESH_TOKEN_TTL: "},
		{"refresh idle off", func(c *Config) { c.RefreshTokenIdleTTL = 0 }, ""},
		{"login failures", func(c *Config) { c.LoginFailures = 0 }, "GATEHOUSE_LOGIN_FAILURES: 0 must be from 1"},
		{"credentials per tenant", func(c *Config) { c.CredentialsPerTenant = 0 }, "GATEHOUSE_CREDENTIALS_PER_TENANT: 0 must be from 1"},
		{"high-volume max age", func(c *Config) { c.HighVolumeMaxAge = time.Hour }, "GATEHOUSE_HIGH_VOLUME_MAX_AGE: 1h0m0s is not between"},
		{"high-volume max age under the refresh ttl", func(c *Config) { c.HighVolumeMaxAge, c.RefreshTokenTTL = 48*time.Hour, 72*time.Hour },
			"GATEHOUSE_HIGH_VOLUME_MAX_AGE: 48h0m0s is shorter than GATEHOUSE_REFRESH_TOKEN_TTL"},
		// What else lives on the high-volume stream must outlive its events
		// too, or a restart rebuilds another state (invariant 6): browser
		// sessions, idempotency records, and a delivery from its first
		// event to its last attempt (each wait up to the schedule's delay
		// and jitter, or the endpoint's Retry-After up to
		// webhooks.MaxRetryAfter) and its retention after it; attempts
		// whose delivery's first event the stream forgot fail the rebuild.
		{"high-volume max age under the session ttl", func(c *Config) {
			c.HighVolumeMaxAge, c.RefreshTokenTTL, c.SessionTTL = 48*time.Hour, 24*time.Hour, 30*24*time.Hour
		},
			"GATEHOUSE_HIGH_VOLUME_MAX_AGE: 48h0m0s is shorter than GATEHOUSE_SESSION_TTL"},
		{"high-volume max age under the idempotency retention", func(c *Config) {
			c.HighVolumeMaxAge, c.RefreshTokenTTL, c.IdempotencyRetention = 48*time.Hour, 24*time.Hour, 720*time.Hour
		},
			"GATEHOUSE_HIGH_VOLUME_MAX_AGE: 48h0m0s is shorter than GATEHOUSE_IDEMPOTENCY_RETENTION"},
		{"high-volume max age under a delivery's life", func(c *Config) { c.HighVolumeMaxAge, c.RefreshTokenTTL = 24*time.Hour, 24*time.Hour },
			"GATEHOUSE_HIGH_VOLUME_MAX_AGE: 24h0m0s is shorter than a webhook delivery's life"},
		{"high-volume max age over a delivery's life", func(c *Config) {
			c.HighVolumeMaxAge, c.RefreshTokenTTL = 60*time.Hour, 24*time.Hour
			c.WebhookRetrySchedule, c.WebhookDeliveryRetention = []time.Duration{time.Minute, time.Hour}, 11*time.Hour
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultConfig()
			tc.change(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			case tc.want != "" && strings.Count(err.Error(), "\n  ") != 1:
				t.Fatalf("Validate reported more than the one problem:\n%v", err)
			}
		})
	}
}

func TestLoadConfigUsage(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-help"}} {
		if _, err := LoadConfig(args, env{}.lookup); !errors.Is(err, ErrHelp) {
			t.Fatalf("%v: err = %v, want errHelp", args, err)
		}
	}
	for _, args := range [][]string{{"--no-such-flag"}, {"extra"}, {"--addr"}} {
		_, err := LoadConfig(args, env{}.lookup)
		var ue UsageError
		if !errors.As(err, &ue) {
			t.Fatalf("%v: err = %v, want a usage error", args, err)
		}
	}
}

// The README's configuration table is the operator's reference: it must
// name every variable, and only those.
func TestReadmeListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings() {
		if !strings.Contains(string(readme), "`"+EnvPrefix+s.env+"`") {
			t.Errorf("README.md does not document %s%s", EnvPrefix, s.env)
		}
	}
}
