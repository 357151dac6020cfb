package vault

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/internal/keyedmac"
	"github.com/gatehouse/gatehouse/internal/ticker"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/sealing"
)

// Grant types of a credential (API.md).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	GrantImplicit          = "implicit"
)

// Defaults.
const (
	// DefaultRefreshBefore is refresh_before_seconds when not given.
	DefaultRefreshBefore = 300
	// DefaultPerTenant is the credential quota of a tenant
	// (GATEHOUSE_CREDENTIALS_PER_TENANT).
	DefaultPerTenant = 1000
	// claimLease is how long a refresh claim holds: past it, another
	// instance may claim the credential again.
	claimLease = 30 * time.Second
	// maxBackoff bounds the wait between failed refreshes.
	maxBackoff = 5 * time.Minute
)

// Vault holds what the credentials API and the refresher share.
type Vault struct {
	Log     events.Log
	Store   projections.Reader
	WaitFor func(ctx context.Context, s events.Stream, seq uint64) error
	// WorkerWaitFor is the refresher's wait (unbounded); nil: WaitFor.
	WorkerWaitFor func(ctx context.Context, s events.Stream, seq uint64) error
	CatchUp       func(ctx context.Context) error
	// Secrets seals client secrets and passwords (sealing.CredentialSecret),
	// Tokens the token sets (sealing.CredentialTokens).
	Secrets, Tokens *sealing.Sealer
	// VaultKeys seals tenants' HPKE private keys (sealing.VaultKey).
	VaultKeys *sealing.Sealer
	// StateKey signs the state of interactive authorizations
	// (StateKeyLabel).
	StateKey []byte
	// stateKey is StateKey's pooled HMAC (stateSum).
	stateOnce sync.Once
	stateKey  *keyedmac.MAC
	mtls      mtlsClients
	// Client is the outbound client towards providers: the SSRF-guarded
	// client of webhook deliveries (webhooks.NewClient).
	Client *http.Client
	// AllowPrivate lets custom token URLs use http on loopback and private
	// addresses (GATEHOUSE_WEBHOOK_ALLOW_PRIVATE).
	AllowPrivate bool
	// Issuer is the server's issuer (the redirect_uri's base).
	Issuer string
	// PerTenant caps a tenant's credentials (0: DefaultPerTenant).
	PerTenant int
	// Instance names this instance in refresh claims.
	Instance string
	// Retain is the high-volume stream's max age
	// (GATEHOUSE_HIGH_VOLUME_MAX_AGE; 0: DefaultRetain): a credential's
	// refresh state is re-appended (a snapshot) half way through it.
	Retain  time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
	Metrics *Metrics

	kick ticker.Wake
}

// Kick wakes the refresher: the schedule may have changed.
func (v *Vault) Kick() { v.kick.Kick() }

func (v *Vault) logger() *slog.Logger {
	if v.Logger == nil {
		return slog.Default()
	}
	return v.Logger
}

// commands is the command path's dependencies of a request's command:
// it appends to Log, then waits with WaitFor (the requests' bounded
// wait, not the refresher's); attempts 0 is command.DefaultAttempts.
func (v *Vault) commands(attempts int) command.Deps {
	return command.Deps{Log: v.Log, WaitFor: v.WaitFor, Attempts: attempts}
}

// workerWait is the refresher's wait for the projections: WorkerWaitFor
// (unbounded), WaitFor when it is not set.
func (v *Vault) workerWait() func(context.Context, events.Stream, uint64) error {
	if v.WorkerWaitFor == nil {
		return v.WaitFor
	}
	return v.WorkerWaitFor
}

func credentialRef(tenant, id string) events.Ref {
	return events.Ref{Tenant: tenant, Type: events.AggCredential, ID: id}
}

func secretAAD(id string) string   { return id + "/client_secret" }
func passwordAAD(id string) string { return id + "/password" }
func tokensAAD(id string, version int) string {
	return id + "/v" + strconv.Itoa(version)
}

// openSecrets opens c's client secret and password.
func (v *Vault) openSecrets(c projections.Credential) (secret, password string, err error) {
	if c.ClientSecretSealed != "" {
		b, err := v.Secrets.Open(secretAAD(c.ID), c.ClientSecretSealed)
		if err != nil {
			return "", "", err
		}
		secret = string(b)
	}
	if c.PasswordSealed != "" {
		b, err := v.Secrets.Open(passwordAAD(c.ID), c.PasswordSealed)
		if err != nil {
			return "", "", err
		}
		password = string(b)
	}
	return secret, password, nil
}

// openTokens opens a stored token set of c.
func (v *Vault) openTokens(c projections.Credential, ver projections.CredentialVersion) (tokenSet, error) {
	b, err := v.Tokens.Open(tokensAAD(c.ID, ver.Version), ver.TokensSealed)
	if err != nil {
		return tokenSet{}, err
	}
	return decodeTokenSet(b)
}

// tokensEvent seals answer a as version ver of credential c (previous:
// the token set it replaces, whose refresh token stays when the
// provider did not rotate it).
func (v *Vault) tokensEvent(c projections.Credential, ver int, reason string, a grantAnswer, previous *tokenSet, now time.Time) (*events.CredentialTokensStored, error) {
	ts := a.tokens
	rotated := false
	if previous != nil && previous.RefreshToken != "" {
		if ts.RefreshToken == "" {
			ts.RefreshToken = previous.RefreshToken // not rotated: the old one stays valid
		} else {
			rotated = ts.RefreshToken != previous.RefreshToken
		}
	}
	sealed, err := v.Tokens.Seal(tokensAAD(c.ID, ver), encodeTokenSet(ts))
	if err != nil {
		return nil, err
	}
	scopes := a.scopes
	if scopes == nil {
		scopes = c.Scopes
	}
	p := &events.CredentialTokensStored{Version: ver, Reason: reason, TokenType: a.tokenType, Scopes: scopes,
		HasRefreshToken: ts.RefreshToken != "", RefreshTokenRotated: rotated, TokensSealed: sealed}
	if a.expiresIn > 0 {
		exp := now.Add(time.Duration(a.expiresIn) * time.Second).UTC().Truncate(time.Second)
		p.ExpiresAt = &exp
		if p.HasRefreshToken || c.GrantType == GrantClientCredentials || c.GrantType == GrantPassword {
			// Something refreshes it; a set nothing refreshes (implicit, a
			// provider issuing no refresh token) is not scheduled: it expires
			// and asks for reauthorization (expiring.go).
			at := refreshAt(now, exp, c.RefreshBeforeSeconds)
			p.RefreshAt = &at
		}
	}
	return p, nil
}

// storeAnswer appends answer, the provider's token set, as credential
// id's next version (reason: created, refreshed, forced, authorized,
// updated; previous: the set whose refresh token stays when the provider
// did not rotate it), re-deciding on conflict so a token set the
// provider issued is never lost to a race. check vets the credential as
// it stands at each decision (nil: nothing to vet); its error ends it,
// nothing stored.
func (v *Vault) storeAnswer(ctx context.Context, wait func(context.Context, events.Stream, uint64) error, tenant, id, reason string,
	answer grantAnswer, previous *tokenSet, now time.Time, check func(projections.Credential) error) (projections.Credential, error) {
	c, _, err := v.run(ctx, wait, 0, tenant, id, func(ctx context.Context) (events.Append, error) {
		c, err := projections.GetCredential(ctx, v.Store, tenant, id)
		if err != nil {
			return events.Append{}, err // deleted meanwhile: nothing to keep
		}
		if check != nil {
			if err := check(c); err != nil {
				return events.Append{}, err
			}
		}
		p, err := v.tokensEvent(c, c.LastVersion+1, reason, answer, previous, now)
		if err != nil {
			return events.Append{}, err
		}
		return v.storedEvent(c, p, now) // the refresh state (refresh_state.go)
	})
	return c, err
}

// refreshAt is when a token set issued at now and expiring at exp is
// refreshed: before bounds the lead (refresh_before_seconds), which is
// at most half the token's life, less a jitter of up to a tenth of the
// lead (at most a minute) that spreads credentials issued together.
func refreshAt(now, exp time.Time, before int) time.Time {
	lead := min(time.Duration(before)*time.Second, exp.Sub(now)/2)
	at := exp.Add(-lead - jitter(min(lead/10, time.Minute)))
	return at.UTC().Truncate(time.Millisecond)
}

// jitter is a uniform random duration in [0, d).
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	n, err := rand.Int(rand.Reader, big.NewInt(int64(d)))
	if err != nil {
		return 0
	}
	return time.Duration(n.Int64())
}

// backoff is the wait before retry n (1, 2, …) of a failed refresh:
// 5 s doubling to 5 min, with up to 20 % jitter.
func backoff(n int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	return d + jitter(d/5)
}

// run appends on the command path and reads the credential back (zero
// once deleted).
func (v *Vault) run(ctx context.Context, wait func(context.Context, events.Stream, uint64) error, attempts int, tenant, id string,
	decide func(ctx context.Context) (events.Append, error)) (projections.Credential, events.Result, error) {
	res, err := command.Run(ctx, command.Deps{Log: v.Log, WaitFor: wait, Attempts: attempts}, func(ctx context.Context, _ int) (command.Decision, error) {
		ap, err := decide(ctx)
		return command.Decision{Append: ap}, err
	})
	if err != nil {
		return projections.Credential{}, res, err
	}
	c, err := projections.GetCredential(ctx, v.Store, tenant, id)
	if errors.Is(err, projections.ErrNotFound) {
		return projections.Credential{}, res, nil
	}
	return c, res, err
}
