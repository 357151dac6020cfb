package projections

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// KindTenant is the document kind of tenants, by tenant id. Key:
// "name:<lower-case name>". Sort is the creation time.
const KindTenant = "tenant"

// KindSystem is the document kind of installation-wide singletons.
const KindSystem = "system"

// bootstrapID is the id of the KindSystem document system.bootstrapped
// leaves.
const bootstrapID = "bootstrap"

// Tenant is a tenant (API.md "Tenants").
type Tenant struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	AdminAppID string    `json:"admin_app_id"`
	CreatedAt  time.Time `json:"created_at"`
	CreatedBy  string    `json:"created_by"`
	// Version counts the tenant's events applied so far.
	Version uint64 `json:"version"`
	// LastSeq is the stream sequence of the tenant's last event.
	LastSeq uint64 `json:"last_seq"`
}

// Bootstrap records that the installation was bootstrapped, and how.
type Bootstrap struct {
	Tenant     string    `json:"tenant"`
	AdminAppID string    `json:"admin_app_id"`
	At         time.Time `json:"at"`
	Seq        uint64    `json:"seq"`
}

var (
	_ = on(applyTenantCreated)
	_ = on(applySystemBootstrapped)
)

// applyTenantCreated stores a tenant. The name key goes to the first
// tenant with the name; a second tenant.created of one tenant is a broken
// log.
func applyTenantCreated(tx Tx, e events.Event, p *events.TenantCreated) error {
	id := e.Aggregate.ID
	if err := createsView(tx, e, KindTenant); err != nil {
		return err
	}
	t := Tenant{ID: id, Name: p.Name, AdminAppID: p.AdminAppID, CreatedAt: e.Time, CreatedBy: e.Actor.ID, Version: 1, LastSeq: e.Seq}
	d := Doc{Kind: KindTenant, ID: id, Tenant: e.Tenant(), Sort: SortTime(e.Time)}
	if err := claim(tx, &d, tenantNameKey(p.Name)); err != nil {
		return err
	}
	return putJSON(tx, d, t)
}

// applySystemBootstrapped records the first bootstrap; the log allows only
// one (it is appended expecting an empty aggregate), and should a second
// ever appear, the first stays.
func applySystemBootstrapped(tx Tx, e events.Event, p *events.SystemBootstrapped) error {
	if doc, err := peekDoc(tx, KindSystem, bootstrapID); err != nil || doc != nil {
		return err
	}
	b := Bootstrap{Tenant: p.Tenant, AdminAppID: p.AdminAppID, At: e.Time, Seq: e.Seq}
	return putJSON(tx, Doc{Kind: KindSystem, ID: bootstrapID, Tenant: e.Tenant()}, b)
}

func tenantNameKey(name string) string { return "name:" + strings.ToLower(name) }

// GetTenant returns the tenant id, or ErrNotFound.
func GetTenant(ctx context.Context, r Reader, id string) (Tenant, error) {
	t, _, err := getView[Tenant](ctx, r, KindTenant, id)
	return t, err
}

// TenantByName returns the tenant called name (compared without case), or
// ErrNotFound.
func TenantByName(ctx context.Context, r Reader, name string) (Tenant, error) {
	t, _, err := lookupView[Tenant](ctx, r, KindTenant, tenantNameKey(name))
	return t, err
}

// Bootstrapped reports whether system.bootstrapped has been applied.
func Bootstrapped(ctx context.Context, r Reader) (bool, error) {
	_, err := GetBootstrap(ctx, r)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return false, err
}

// GetBootstrap returns what system.bootstrapped recorded, or ErrNotFound.
func GetBootstrap(ctx context.Context, r Reader) (Bootstrap, error) {
	b, _, err := getView[Bootstrap](ctx, r, KindSystem, bootstrapID)
	return b, err
}
