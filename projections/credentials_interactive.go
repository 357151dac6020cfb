package projections

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/events"
)

// KindCredentialAuth is an authorization of a credential at its
// provider (the vault's state), by the SHA-256 of its state's random
// part. It leaves the store when it expires.
const KindCredentialAuth = "credential_auth"

// CredentialAuth is a state handed to a provider.
type CredentialAuth struct {
	ID             string    `json:"id"`
	Tenant         string    `json:"tenant"`
	CredentialID   string    `json:"credential_id"`
	GrantType      string    `json:"grant_type"`
	RedirectURI    string    `json:"redirect_uri"`
	VerifierSealed string    `json:"verifier_sealed,omitempty"`
	ExpiresAt      time.Time `json:"expires_at"`
	// Settings and Initiator (who started it) are bound into the state's
	// MAC (events.CredentialAuthStarted).
	Settings  string       `json:"settings,omitempty"`
	Initiator events.Actor `json:"initiator"`
	Used      bool         `json:"used"`
	LastSeq   uint64       `json:"last_seq"`
}

// KindCollection is a collection of credentials, by id.
const KindCollection = "collection"

// Collection groups credentials; Members counts those in it.
type Collection struct {
	ID        string    `json:"id"`
	Tenant    string    `json:"tenant"`
	Name      string    `json:"name"`
	Members   int       `json:"members"`
	CreatedAt time.Time `json:"created_at"`
	Version   uint64    `json:"version"`
	LastSeq   uint64    `json:"last_seq"`
}

// KindCertificate is a certificate credential, by id.
const KindCertificate = "credential_certificate"

// Certificate is a TLS client certificate; the sealed key never leaves
// the server. Users are the credentials presenting it.
type Certificate struct {
	ID               string `json:"id"`
	Tenant           string `json:"tenant"`
	Name             string `json:"name"`
	CertificatePEM   string `json:"certificate_pem"`
	PrivateKeySealed string `json:"private_key_sealed"`
	events.CertificateDetails
	Users     []string  `json:"users"`
	CreatedAt time.Time `json:"created_at"`
	Version   uint64    `json:"version"`
	LastSeq   uint64    `json:"last_seq"`
}

var (
	_ = on(func(tx Tx, e events.Event, p *events.CredentialAuthStarted) error {
		a := CredentialAuth{ID: e.Aggregate.ID, Tenant: e.Tenant(), CredentialID: p.CredentialID, GrantType: p.GrantType,
			RedirectURI: p.RedirectURI, VerifierSealed: p.VerifierSealed, ExpiresAt: p.ExpiresAt, Settings: p.Settings, Initiator: e.Actor, LastSeq: e.Seq}
		if err := putJSON(tx, Doc{Kind: KindCredentialAuth, ID: a.ID, Tenant: a.Tenant, Sort: SortTime(e.Time)}, a); err != nil {
			return err
		}
		return ExpireAt(tx, events.Control, KindCredentialAuth, a.ID, a.ExpiresAt)
	})
	_ = on(func(tx Tx, e events.Event, _ *events.CredentialAuthUsed) error {
		d, err := tx.Get(KindCredentialAuth, e.Aggregate.ID)
		if isNotFound(err) {
			return nil // expired before its use was projected
		}
		if err != nil {
			return err
		}
		a, err := decode[CredentialAuth](d)
		if err != nil {
			return err
		}
		a.Used, a.LastSeq = true, e.Seq
		return putJSON(tx, d, a)
	})

	_ = on(func(tx Tx, e events.Event, p *events.CollectionCreated) error {
		return putJSON(tx, Doc{Kind: KindCollection, ID: e.Aggregate.ID, Tenant: e.Tenant(), Sort: SortTime(e.Time)},
			Collection{ID: e.Aggregate.ID, Tenant: e.Tenant(), Name: p.Name, CreatedAt: e.Time, Version: 1, LastSeq: e.Seq})
	})
	_ = on(func(tx Tx, e events.Event, _ *events.CollectionDeleted) error {
		return tx.Delete(KindCollection, e.Aggregate.ID)
	})
	_ = on(func(tx Tx, e events.Event, _ *events.CollectionMemberAdded) error {
		return changeCollection(tx, e, func(c *Collection) { c.Members++ })
	})
	_ = on(func(tx Tx, e events.Event, _ *events.CollectionMemberRemoved) error {
		return changeCollection(tx, e, func(c *Collection) { c.Members = max(0, c.Members-1) })
	})

	_ = on(func(tx Tx, e events.Event, p *events.CertificateCreated) error {
		return putJSON(tx, Doc{Kind: KindCertificate, ID: e.Aggregate.ID, Tenant: e.Tenant(), Sort: SortTime(e.Time)}, Certificate{
			ID: e.Aggregate.ID, Tenant: e.Tenant(), Name: p.Name, CertificatePEM: p.CertificatePEM, PrivateKeySealed: p.PrivateKeySealed,
			CertificateDetails: p.CertificateDetails, Users: []string{}, CreatedAt: e.Time, Version: 1, LastSeq: e.Seq})
	})
	_ = on(func(tx Tx, e events.Event, _ *events.CertificateDeleted) error {
		return tx.Delete(KindCertificate, e.Aggregate.ID)
	})
	_ = on(func(tx Tx, e events.Event, p *events.CertificateUsed) error {
		return changeCertificate(tx, e, func(c *Certificate) {
			if !slices.Contains(c.Users, p.CredentialID) {
				c.Users = append(c.Users, p.CredentialID)
			}
		})
	})
	_ = on(func(tx Tx, e events.Event, p *events.CertificateReleased) error {
		return changeCertificate(tx, e, func(c *Certificate) {
			c.Users = slices.DeleteFunc(c.Users, func(id string) bool { return id == p.CredentialID })
		})
	})
)

func changeCollection(tx Tx, e events.Event, change func(*Collection)) error {
	d, err := tx.Get(KindCollection, e.Aggregate.ID)
	if err != nil {
		return fmt.Errorf("projections: %s for collection %s: %w", e.Type, e.Aggregate.ID, err)
	}
	c, err := decode[Collection](d)
	if err != nil {
		return err
	}
	change(&c)
	c.LastSeq = e.Seq
	return putJSON(tx, d, c)
}

func changeCertificate(tx Tx, e events.Event, change func(*Certificate)) error {
	d, err := tx.Get(KindCertificate, e.Aggregate.ID)
	if err != nil {
		return fmt.Errorf("projections: %s for certificate %s: %w", e.Type, e.Aggregate.ID, err)
	}
	c, err := decode[Certificate](d)
	if err != nil {
		return err
	}
	change(&c)
	c.Users = orEmpty(c.Users)
	c.LastSeq = e.Seq
	return putJSON(tx, d, c)
}

// GetCredentialAuth returns the authorization state id (any tenant: the
// callback learns the tenant from it), or ErrNotFound (also once
// expired by the log's clock; callers check ExpiresAt against theirs).
func GetCredentialAuth(ctx context.Context, r Reader, id string) (CredentialAuth, error) {
	a, _, err := getView[CredentialAuth](ctx, r, KindCredentialAuth, id)
	return a, err
}

// GetCollection returns collection id of tenant (another tenant's is
// ErrNotFound).
func GetCollection(ctx context.Context, r Reader, tenant, id string) (Collection, error) {
	c, d, err := getView[Collection](ctx, r, KindCollection, id)
	if err == nil && d.Tenant != tenant {
		return Collection{}, NotFound("collection", id)
	}
	return c, err
}

// ListCollections returns a page of tenant's collections, oldest first.
func ListCollections(ctx context.Context, r Reader, tenant string, p Page) ([]Collection, string, error) {
	return listViews[Collection](ctx, r, KindCollection, tenant, p)
}

// ListCertificates returns a page of tenant's certificate credentials,
// oldest first.
func ListCertificates(ctx context.Context, r Reader, tenant string, p Page) ([]Certificate, string, error) {
	return listViews[Certificate](ctx, r, KindCertificate, tenant, p)
}

// GetCertificate returns certificate credential id of tenant (another
// tenant's is ErrNotFound).
func GetCertificate(ctx context.Context, r Reader, tenant, id string) (Certificate, error) {
	c, d, err := getView[Certificate](ctx, r, KindCertificate, id)
	if err == nil && d.Tenant != tenant {
		return Certificate{}, NotFound("certificate", id)
	}
	return c, err
}
