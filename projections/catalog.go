package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/events"
)

// KindScope is the document kind of a tenant's own scope catalog entries
// (the built-in scopes are not documents: they are in every catalog), by
// "<tenant>/<name>". Sort is the name, so lists are alphabetical.
const KindScope = "scope"

// KindEventType is the document kind of a tenant's own event types, by
// "<tenant>/<name>", sorted by name.
const KindEventType = "eventtype"

// CatalogScope is one tenant-defined scope of the catalog.
type CatalogScope struct {
	Name              string `json:"name"`
	Tenant            string `json:"tenant"`
	Description       string `json:"description"`
	RequiresApproval  bool   `json:"requires_approval"`
	ApprovalsRequired int    `json:"approvals_required"`
	Version           uint64 `json:"version"`
	// LastSeq is the sequence of the entry's last event: the Expect of
	// its next change.
	LastSeq uint64 `json:"last_seq"`
}

// CatalogEventType is one tenant-defined event type of the catalog.
type CatalogEventType struct {
	Name        string `json:"name"`
	Tenant      string `json:"tenant"`
	Description string `json:"description"`
	Scope       string `json:"scope"`
	Version     uint64 `json:"version"`
	LastSeq     uint64 `json:"last_seq"`
}

// CatalogTombstone is what a deleted catalog entry leaves: its
// aggregate's last sequence, which a new definition of the name must
// expect, and its last version, which a new definition continues (an
// If-Match naming a version of the deleted entry never matches the new
// one).
type catalogTombstone struct {
	LastSeq uint64 `json:"last_seq"`
	Version uint64 `json:"version,omitempty"`
}

// Catalog documents of deleted entries live under this kind, so a name
// can be defined again (expecting the aggregate's last sequence).
const kindCatalogTombstone = "catalog-tombstone"

var (
	_ = on(func(tx Tx, e events.Event, p *events.ScopeDefined) error {
		s := CatalogScope{Name: p.Name, Tenant: e.Tenant(), Description: p.Description,
			RequiresApproval: p.RequiresApproval, ApprovalsRequired: p.ApprovalsRequired}
		if err := priorVersion(tx, e, KindScope, p.Name, &s.Version); err != nil {
			return err
		}
		return putCatalog(tx, e, KindScope, p.Name, &s.Version, &s.LastSeq, &s)
	})
	_ = on(func(tx Tx, e events.Event, p *events.ScopeUpdated) error {
		s, err := loadCatalog[CatalogScope](tx, e, KindScope, p.Name)
		if err != nil {
			return err
		}
		setIf(&s.Description, p.Description)
		setIf(&s.RequiresApproval, p.RequiresApproval)
		setIf(&s.ApprovalsRequired, p.ApprovalsRequired)
		return putCatalog(tx, e, KindScope, p.Name, &s.Version, &s.LastSeq, &s)
	})
	_ = on(func(tx Tx, e events.Event, p *events.ScopeDeleted) error {
		return deleteCatalog(tx, e, KindScope, p.Name)
	})
	_ = on(func(tx Tx, e events.Event, p *events.EventTypeDefined) error {
		t := CatalogEventType{Name: p.Name, Tenant: e.Tenant(), Description: p.Description, Scope: p.Scope}
		if err := priorVersion(tx, e, KindEventType, p.Name, &t.Version); err != nil {
			return err
		}
		return putCatalog(tx, e, KindEventType, p.Name, &t.Version, &t.LastSeq, &t)
	})
	_ = on(func(tx Tx, e events.Event, p *events.EventTypeDeleted) error {
		return deleteCatalog(tx, e, KindEventType, p.Name)
	})
)

func catalogDocID(tenant, name string) string { return tenant + "/" + name }

func putCatalog(tx Tx, e events.Event, kind, name string, version, lastSeq *uint64, v any) error {
	*version++
	*lastSeq = e.Seq
	id := catalogDocID(e.Tenant(), name)
	if err := tx.Delete(kindCatalogTombstone, kind+"/"+id); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return putJSON(tx, Doc{Kind: kind, ID: id, Tenant: e.Tenant(), Sort: name}, v)
}

func loadCatalog[V any](tx Tx, e events.Event, kind, name string) (V, error) {
	var v V
	d, err := tx.Get(kind, catalogDocID(e.Tenant(), name))
	if err != nil {
		return v, fmt.Errorf("projections: %s for %s %q: %w", e.Type, kind, name, err)
	}
	return decode[V](d)
}

func deleteCatalog(tx Tx, e events.Event, kind, name string) error {
	id := catalogDocID(e.Tenant(), name)
	last, err := loadCatalog[catalogTombstone](tx, e, kind, name) // every entry has its version
	if err != nil {
		return err
	}
	if err := tx.Delete(kind, id); err != nil {
		return fmt.Errorf("projections: %s for %s %q: %w", e.Type, kind, name, err)
	}
	return putJSON(tx, Doc{Kind: kindCatalogTombstone, ID: kind + "/" + id, Tenant: e.Tenant()}, catalogTombstone{LastSeq: e.Seq, Version: last.Version})
}

// priorVersion sets *version to the last version of a deleted entry of
// the name, if any: a new definition continues from it.
func priorVersion(tx Tx, e events.Event, kind, name string, version *uint64) error {
	d, err := tx.Get(kindCatalogTombstone, kind+"/"+catalogDocID(e.Tenant(), name))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	t, err := decode[catalogTombstone](d)
	*version = t.Version
	return err
}

// GetCatalogScope returns tenant's own catalog scope name, or ErrNotFound
// (built-in scopes are not here).
func GetCatalogScope(ctx context.Context, r Reader, tenant, name string) (CatalogScope, error) {
	s, _, err := getView[CatalogScope](ctx, r, KindScope, catalogDocID(tenant, name))
	return s, err
}

// ListCatalogScopes returns a page of tenant's own scopes, by name.
func ListCatalogScopes(ctx context.Context, r Reader, tenant string, p Page) ([]CatalogScope, string, error) {
	return listViews[CatalogScope](ctx, r, KindScope, tenant, p)
}

// GetCatalogEventType returns tenant's own event type name, or ErrNotFound.
func GetCatalogEventType(ctx context.Context, r Reader, tenant, name string) (CatalogEventType, error) {
	t, _, err := getCachedView(ctx, r, KindEventType, catalogDocID(tenant, name), func(t CatalogEventType) CatalogEventType { return t })
	return t, err
}

// ListCatalogEventTypes returns a page of tenant's own event types, by name.
func ListCatalogEventTypes(ctx context.Context, r Reader, tenant string, p Page) ([]CatalogEventType, string, error) {
	return listViews[CatalogEventType](ctx, r, KindEventType, tenant, p)
}

// CatalogLastSeq returns the last sequence of the catalog aggregate of
// kind (KindScope or KindEventType) and name in tenant: what a command
// changing it must expect. A name never defined is 0; a deleted one is the
// sequence of its deletion.
func CatalogLastSeq(ctx context.Context, r Reader, kind, tenant, name string) (uint64, error) {
	id := catalogDocID(tenant, name)
	d, err := r.Get(ctx, kind, id)
	if err == nil {
		v, err := decode[catalogTombstone](d) // every entry has last_seq
		return v.LastSeq, err
	}
	if !errors.Is(err, ErrNotFound) {
		return 0, err
	}
	t, err := getViewOr(ctx, r, kindCatalogTombstone, kind+"/"+id, catalogTombstone{})
	return t.LastSeq, err
}
