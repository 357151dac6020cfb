package authz

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/oauth"
)

// Fixed names of the bootstrap (API.md "Authentication of the platform
// API").
const (
	DefaultTenant = "default"
	// SystemTenant owns the aggregates that belong to no tenant: the
	// bootstrap marker, signing keys, tenant-name claims.
	SystemTenant = "system"
	// Name namespaces of unique-name claims.
	nsTenantName = "tenant"
	nsAppName    = "app"
)

// BootstrapConfig is the admin app's credentials; both empty means
// generate them.
type BootstrapConfig struct {
	ClientID     string
	ClientSecret string
	// TokenTTLSeconds is the admin app's access_token_ttl_seconds: the
	// server's default lifetime. Default 3600.
	TokenTTLSeconds int
}

// BootstrapResult says what Bootstrap did. ClientSecret is set only when
// this call created the admin app, for the caller to print once.
type BootstrapResult struct {
	Created      bool
	ClientID     string
	ClientSecret string
}

var bootstrapRef = events.Ref{Tenant: SystemTenant, Type: events.AggSystem, ID: "bootstrap"}

// Bootstrap creates, on a log that was never bootstrapped, the tenant
// "default" and its admin app holding every built-in scope, in one atomic
// append. The system.bootstrapped event is appended expecting an empty
// aggregate, so across restarts and racing instances it happens once; a
// later call changes nothing and reports Created false.
func Bootstrap(ctx context.Context, log events.Log, hasher *oauth.SecretHasher, cfg BootstrapConfig, now time.Time) (BootstrapResult, error) {
	if (cfg.ClientID == "") != (cfg.ClientSecret == "") {
		return BootstrapResult{}, errors.New("authz: set both GATEHOUSE_BOOTSTRAP_CLIENT_ID and GATEHOUSE_BOOTSTRAP_CLIENT_SECRET, or neither")
	}
	if _, err := log.Read(ctx, bootstrapRef); err == nil {
		return BootstrapResult{}, nil
	} else if !errors.Is(err, events.ErrNotFound) {
		return BootstrapResult{}, err
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "admin"
		cfg.ClientSecret = oauth.NewClientSecret()
	}
	evs, err := bootstrapEvents(cfg, hasher, now)
	if err != nil {
		return BootstrapResult{}, err
	}
	_, err = log.Append(ctx, events.Append{Events: evs, Expect: []events.Expect{{Ref: bootstrapRef}}})
	if errors.Is(err, events.ErrVersionConflict) {
		return BootstrapResult{}, nil // another instance was first
	}
	if err != nil {
		return BootstrapResult{}, fmt.Errorf("authz: bootstrap: %w", err)
	}
	return BootstrapResult{Created: true, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret}, nil
}

// bootstrapEvents are the control-plane events of a fresh installation:
// the bootstrap marker, then tenant "default" with its admin app.
func bootstrapEvents(cfg BootstrapConfig, hasher *oauth.SecretHasher, now time.Time) ([]events.Event, error) {
	t := newTenantSpec(DefaultTenant, DefaultTenant, cfg.ClientID, hasher.HashString(cfg.ClientSecret), bootstrapAdminScopes(), cfg.TokenTTLSeconds)
	marker, err := events.New(bootstrapRef, events.System, now, &events.SystemBootstrapped{Tenant: DefaultTenant, AdminAppID: t.appID})
	if err != nil {
		return nil, err
	}
	evs, err := t.events(events.System, now)
	return append([]events.Event{marker}, evs...), err
}

// tenantSpec is a tenant about to be created with its admin app.
type tenantSpec struct {
	id, name, appID, clientID, secretHash string
	scopes                                []string
	ttl                                   int
}

func newTenantSpec(id, name, clientID, secretHash string, scopes []string, ttl int) tenantSpec {
	if ttl == 0 {
		ttl = 3600
	}
	return tenantSpec{id: id, name: name, appID: events.NewID("app"), clientID: clientID, secretHash: secretHash, scopes: scopes, ttl: ttl}
}

// tenantRef is a tenant's own aggregate.
func tenantRef(id string) events.Ref { return events.Ref{Tenant: id, Type: events.AggTenant, ID: id} }

// tenantNameRef is the claim on a tenant name (global: owned by the
// system tenant).
func tenantNameRef(name string) events.Ref { return events.NameRef(SystemTenant, nsTenantName, name) }

// events are the tenant, its name claim, its admin app (every scope of
// t.scopes approved) and the app's name claim, for one atomic append.
func (t tenantSpec) events(actor events.Actor, now time.Time) ([]events.Event, error) {
	grants := make([]events.ScopeGrant, len(t.scopes))
	for i, s := range t.scopes {
		grants[i] = events.ScopeGrant{Scope: s, Status: events.GrantApproved}
	}
	app := &events.AppCreated{
		AppSettings: events.AppSettings{
			ClientID:                t.clientID,
			Name:                    "admin",
			GrantTypes:              []string{"client_credentials"},
			RedirectURIs:            []string{},
			TokenEndpointAuthMethod: "client_secret_basic",
			Active:                  true,
			AccessTokenTTLSeconds:   t.ttl,
		},
		Scopes:     grants,
		SecretID:   events.NewID("sec"),
		SecretHash: t.secretHash,
	}
	return events.NewAll(actor, now,
		events.Change{Ref: tenantRef(t.id), Payload: &events.TenantCreated{Name: t.name, AdminAppID: t.appID}},
		events.ClaimName(SystemTenant, nsTenantName, t.name, t.id),
		events.Change{Ref: appRef(t.id, t.appID), Payload: app},
		events.ClaimName(t.id, nsAppName, "admin", t.appID),
	)
}
