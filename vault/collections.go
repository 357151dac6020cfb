package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/authz"
	"github.com/gatehouse/gatehouse/command"
	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// This file is collections: a named grouping of a tenant's credentials
// (API.md: POST /v1/collections {"name"}; a credential's collection_id).
// GET lists and reads them; DELETE removes an empty one and answers 409
// while credentials are in it (move or delete them first), so no
// credential ever names a collection that does not exist. Membership is
// recorded on the collection (collection.member_added/_removed, appended
// with the credential's change and expecting the collection's last
// event), which is what makes the emptiness check hold under concurrent
// creates.

type collectionJSON struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Credentials int       `json:"credentials"`
	CreatedAt   time.Time `json:"created_at"`
	Version     uint64    `json:"version"`
}

func collJSON(c projections.Collection) collectionJSON {
	return collectionJSON{ID: c.ID, Name: c.Name, Credentials: c.Members, CreatedAt: c.CreatedAt, Version: c.Version}
}

func collectionRef(tenant, id string) events.Ref {
	return events.Ref{Tenant: tenant, Type: events.AggCollection, ID: id}
}

// registerCollections adds /v1/collections.
func (a *API) registerCollections(e *echo.Echo, auth *oauth.Authenticator) {
	g := e.Group("/v1/collections")
	g.POST("", a.createCollection, httpapi.NoStore, auth.Require(ScopeWrite), a.Idem.Middleware)
	g.GET("", a.listCollections, auth.Require(ScopeRead))
	g.GET("/:id", a.getCollection, auth.Require(ScopeRead))
	g.DELETE("/:id", a.deleteCollection, auth.Require(ScopeWrite))
}

func (a *API) createCollection(c echo.Context) error {
	ctx := c.Request().Context()
	p := oauth.PrincipalOf(c)
	var req struct {
		Name string `json:"name"`
	}
	if err := httpapi.BindJSON(c, &req); err != nil {
		return err
	}
	name, msg := normalizeName(req.Name)
	if msg != "" {
		return httpapi.Validation(httpapi.FieldError{Field: "name", Message: msg})
	}
	id := events.NewID("coll")
	now := a.Now()
	_, err := command.Run(ctx, a.commands(0), func(ctx context.Context, _ int) (command.Decision, error) {
		claim, err := projections.GetNameClaim(ctx, a.Store, p.Tenant, events.NamespaceCollectionName, name)
		if err != nil {
			return command.Decision{}, err
		}
		if claim.Owner != "" {
			return command.Decision{}, httpapi.Conflict("a collection with this name already exists in this tenant")
		}
		ap, err := namedCreate(p, now, collectionRef(p.Tenant, id), &events.CollectionCreated{Name: name}, claim)
		return command.Decision{Append: ap}, err
	})
	if err != nil {
		return err
	}
	coll, err := projections.GetCollection(ctx, a.Store, p.Tenant, id)
	if err != nil {
		return err
	}
	return authz.Versioned(c, http.StatusCreated, coll.Version, collJSON(coll))
}

func (a *API) listCollections(c echo.Context) error {
	return authz.ListPage(c, authz.Listed(c, a.Store, projections.ListCollections), collJSON)
}

func collVersion(c projections.Collection) uint64 { return c.Version }

func (a *API) getCollection(c echo.Context) error {
	return authz.Show(c, "collection", a.CatchUp, authz.Named(c, a.Store, projections.GetCollection), collVersion, collJSON)
}

func (a *API) deleteCollection(c echo.Context) error {
	tenant := oauth.PrincipalOf(c).Tenant
	return authz.Remove(c, authz.Removal[projections.Collection]{What: "collection", CatchUp: a.CatchUp,
		Deps: a.commands(0), Now: a.Now(), Get: authz.Named(c, a.Store, projections.GetCollection), Version: collVersion,
		Decide: func(_ context.Context, coll projections.Collection) ([]events.Change, []events.Expect, error) {
			if coll.Members > 0 {
				return nil, nil, httpapi.Conflict(fmt.Sprintf("the collection holds %d credential(s): move or delete them first", coll.Members))
			}
			ref := collectionRef(tenant, coll.ID)
			return nameReleased(ref, &events.CollectionDeleted{Name: coll.Name}, events.NamespaceCollectionName, coll.Name, coll.ID),
				[]events.Expect{{Ref: ref, Seq: coll.LastSeq}}, nil
		}})
}

// membership returns the collection events of a credential moving from
// collection from to collection to ("" : none), with the expectations
// that make them hold: 400 when to is not a collection of tenant.
func (a *API) membership(ctx context.Context, tenant, credID, from, to string) ([]events.Change, []events.Expect, error) {
	if from == to {
		return nil, nil, nil
	}
	var ch []events.Change
	var ex []events.Expect
	if from != "" {
		coll, err := projections.GetCollection(ctx, a.Store, tenant, from)
		if err == nil { // a deleted collection had no members: nothing to remove
			ref := collectionRef(tenant, from)
			ch = append(ch, events.Change{Ref: ref, Payload: &events.CollectionMemberRemoved{CredentialID: credID}})
			ex = append(ex, events.Expect{Ref: ref, Seq: coll.LastSeq})
		} else if !errors.Is(err, projections.ErrNotFound) {
			return nil, nil, err
		}
	}
	if to != "" {
		coll, err := projections.GetCollection(ctx, a.Store, tenant, to)
		if errors.Is(err, projections.ErrNotFound) {
			return nil, nil, httpapi.Validation(httpapi.FieldError{Field: "collection_id", Message: "is not a collection of this tenant"})
		}
		if err != nil {
			return nil, nil, err
		}
		ref := collectionRef(tenant, to)
		ch = append(ch, events.Change{Ref: ref, Payload: &events.CollectionMemberAdded{CredentialID: credID}})
		ex = append(ex, events.Expect{Ref: ref, Seq: coll.LastSeq})
	}
	return ch, ex, nil
}

// createRefs are the events a create appends to what the credential
// refers to: its collection's member_added, its certificate's used, its
// first authorization state (each with its expectation).
func (a *API) createRefs(ctx context.Context, tenant, id string, spec events.CredentialCreated, start *authStart) ([]events.Change, []events.Expect, error) {
	ch, ex, err := a.membership(ctx, tenant, id, "", spec.CollectionID)
	if err != nil {
		return nil, nil, err
	}
	if spec.MTLSCertificateID != "" {
		use, expect, err := a.certificateUse(ctx, tenant, spec.MTLSCertificateID, id)
		if err != nil {
			return nil, nil, err
		}
		ch, ex = append(ch, use), append(ex, expect)
	}
	if start != nil {
		ch, ex = append(ch, start.change), append(ex, events.Expect{Ref: start.change.Ref})
	}
	return ch, ex, nil
}

// deleteRefs are the events a delete of cr appends: out of its
// collection, its certificate released.
func (a *API) deleteRefs(ctx context.Context, cr projections.Credential) ([]events.Change, []events.Expect, error) {
	ch, ex, err := a.membership(ctx, cr.Tenant, cr.ID, cr.CollectionID, "")
	if err != nil {
		return nil, nil, err
	}
	if cr.MTLSCertificateID != "" {
		cert, err := projections.GetCertificate(ctx, a.Store, cr.Tenant, cr.MTLSCertificateID)
		if err == nil {
			ref := events.Ref{Tenant: cr.Tenant, Type: events.AggCertificate, ID: cert.ID}
			ch = append(ch, events.Change{Ref: ref, Payload: &events.CertificateReleased{CredentialID: cr.ID}})
			ex = append(ex, events.Expect{Ref: ref, Seq: cert.LastSeq})
		} else if !errors.Is(err, projections.ErrNotFound) {
			return nil, nil, err
		}
	}
	return ch, ex, nil
}
