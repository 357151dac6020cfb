package vault

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/projections"
)

// The decisions of creating and deleting a credential, shared by the
// direct requests (api.go) and the approval activities that run them
// once approved (activities.go): the same checks on the state decided
// on, the same events, the same expectations.

// createChanges are the events that create credential id of tenant from
// spec (tokens: its first token set, or nil) and the versions they
// expect: the name claimed (409 when taken), the quota counted (403
// quota_exceeded when reached; activity: the create activity whose held
// slot the credential takes, "" for a direct create).
//
// start is the first authorization's state of an interactive grant (nil:
// none yet); the collection and certificate references are claimed in the
// same append (createRefs).
func (a *API) createChanges(ctx context.Context, tenant, id string, spec *events.CredentialCreated, tokens *events.CredentialTokensStored, start *authStart, activity string) ([]events.Change, []events.Expect, error) {
	ns, claimed := nameClaim(spec.OwnerUserID, spec.Name)
	claim, err := projections.GetNameClaim(ctx, a.Store, tenant, ns, claimed)
	if err != nil {
		return nil, nil, err
	}
	if claim.Owner != "" {
		return nil, nil, nameTaken()
	}
	counted, quota, err := a.quotaChange(ctx, tenant, 1, nil, activity, a.Now())
	if err != nil {
		return nil, nil, err
	}
	named, ref := events.ClaimName(tenant, ns, claimed, id), credentialRef(tenant, id)
	pairs := []events.Change{named, {Ref: ref, Payload: spec}}
	if tokens != nil {
		pairs = append(pairs, events.Change{Ref: ref, Payload: tokens})
	}
	pairs = append(pairs, counted)
	more, moreExpect, err := a.createRefs(ctx, tenant, id, *spec, start)
	if err != nil {
		return nil, nil, err
	}
	return append(pairs, more...), append([]events.Expect{{Ref: named.Ref, Seq: claim.LastSeq}, {Ref: ref}, quota}, moreExpect...), nil
}

// deleteChanges are the events that delete credential id of tenant
// (match: its If-Match, 0 for none) and the version they expect.
func (a *API) deleteChanges(ctx context.Context, tenant, id string, match uint64) ([]events.Change, []events.Expect, error) {
	cr, err := a.current(ctx, tenant, id, match)
	if err != nil {
		return nil, nil, err
	}
	ref := credentialRef(tenant, cr.ID)
	ns, value := nameClaim(cr.OwnerUserID, cr.Name)
	more, moreExpect, err := a.deleteRefs(ctx, cr)
	if err != nil {
		return nil, nil, err
	}
	freed, quota, err := a.quotaChange(ctx, tenant, -1, nil, "", a.Now())
	if err != nil {
		return nil, nil, err
	}
	return append(append(nameReleased(ref, &events.CredentialDeleted{Name: cr.Name}, ns, value, cr.ID), freed), more...),
		append([]events.Expect{{Ref: ref, Seq: cr.LastSeq}, quota}, moreExpect...), nil
}

// initialTokens asks the provider for the first token set of a
// client_credentials or password credential (nil for the interactive
// grants): a refusal is 502 upstream_error naming the provider's error.
func (a *API) initialTokens(ctx context.Context, tenant, id string, spec events.CredentialCreated, secret, password string) (*events.CredentialTokensStored, error) {
	if spec.GrantType != GrantClientCredentials && spec.GrantType != GrantPassword {
		return nil, nil
	}
	view := projections.NewCredential(id, tenant, spec, a.Now())
	client, err := a.clientFor(ctx, view)
	if errors.Is(err, projections.ErrNotFound) {
		return nil, httpapi.Validation(httpapi.FieldError{Field: "mtls_certificate_id", Message: "is not a certificate credential of this tenant"})
	} else if err != nil {
		return nil, err
	}
	answer, err := requestToken(ctx, client, endpointOf(view, secret), grantForm(view, password))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, httpapi.UpstreamError(errorDetail(spec.Provider, err))
	}
	return a.tokensEvent(view, 1, "created", answer, nil, a.Now())
}
