package authz

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/events"
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
func Bootstrap(ctx context.Context, log events.Log, hasher *SecretHasher, cfg BootstrapConfig, now time.Time) (BootstrapResult, error) {
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
		cfg.ClientSecret = NewClientSecret()
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

// bootstrapEvents are the control-plane events of a fresh installation.
func bootstrapEvents(cfg BootstrapConfig, hasher *SecretHasher, now time.Time) ([]events.Event, error) {
	appID := events.NewID("app")
	tenantRef := events.Ref{Tenant: DefaultTenant, Type: events.AggTenant, ID: DefaultTenant}
	appRef := events.Ref{Tenant: DefaultTenant, Type: events.AggApp, ID: appID}
	grants := make([]events.ScopeGrant, 0, len(BuiltinScopes))
	for _, s := range bootstrapAdminScopes() {
		grants = append(grants, events.ScopeGrant{Scope: s, Status: "approved"})
	}
	app := &events.AppCreated{
		ClientID:                cfg.ClientID,
		Name:                    "admin",
		GrantTypes:              []string{"client_credentials"},
		RedirectURIs:            []string{},
		TokenEndpointAuthMethod: "client_secret_basic",
		Active:                  true,
		AccessTokenTTLSeconds:   3600,
		Scopes:                  grants,
		SecretID:                events.NewID("sec"),
		SecretHash:              hasher.HashString(cfg.ClientSecret),
	}
	payloads := []struct {
		ref events.Ref
		p   events.Payload
	}{
		{bootstrapRef, &events.SystemBootstrapped{Tenant: DefaultTenant, AdminAppID: appID}},
		{tenantRef, &events.TenantCreated{Name: DefaultTenant, AdminAppID: appID}},
		{events.NameRef(SystemTenant, nsTenantName, DefaultTenant), &events.NameClaimed{Namespace: nsTenantName, Value: DefaultTenant, Owner: DefaultTenant}},
		{appRef, app},
		{events.NameRef(DefaultTenant, nsAppName, "admin"), &events.NameClaimed{Namespace: nsAppName, Value: "admin", Owner: appID}},
	}
	out := make([]events.Event, len(payloads))
	for i, x := range payloads {
		e, err := events.New(x.ref, events.System, now, x.p)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}
