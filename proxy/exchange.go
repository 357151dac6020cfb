package proxy

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/ory/fosite"
	"golang.org/x/sync/singleflight"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
	"github.com/gatehouse/gatehouse/vault"
)

// RFC 8693 identifiers.
const (
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
)

// Exchange is the RFC 8693 token exchange as a fosite token endpoint
// handler (fosite v0.49 has none): an app presents its own access token
// (subject_token) and names a credential (resource); it gets the
// credential's current access token at the provider and its remaining
// lifetime, never the refresh token.
//
// Who may: the client authenticated at the token endpoint, whose own
// token the subject_token is (same app, so same tenant), holding
// credentials:use, named in the credential's grants, the credential
// exchangeable (and, for a user's own credential, a subject_token of that
// user). The grant type needs no approval of its own as
// authorization_code does: what it hands out is decided by two
// approvals already, the credentials:use scope approved for the app and
// the credential's grants and exchangeable set by a credentials:write
// admin.
type Exchange struct {
	Vault   *vault.Vault
	Checker *oauth.TokenChecker
	Usage   *Usage
	Now     func() time.Time

	flights singleflight.Group
}

var _ fosite.TokenEndpointHandler = (*Exchange)(nil)

func exchangeError(code, description string) error {
	return &fosite.RFC6749Error{ErrorField: code, DescriptionField: description, CodeField: http.StatusBadRequest}
}

// HandleTokenEndpointRequest validates the request's form; the answer is
// made in PopulateTokenEndpointResponse.
func (x *Exchange) HandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) error {
	if !x.CanHandleTokenEndpointRequest(context.Background(), r) {
		return fosite.ErrUnknownRequest
	}
	f := r.GetRequestForm()
	switch {
	case f.Get("subject_token") == "":
		return exchangeError("invalid_request", "subject_token is required: the app's own access token.")
	case f.Get("subject_token_type") != TokenTypeAccessToken:
		return exchangeError("invalid_request", "subject_token_type must be "+TokenTypeAccessToken+".")
	case len(f["resource"]) != 1 || f.Get("resource") == "":
		return exchangeError("invalid_target", "resource must name one credential (its id).")
	case f.Get("actor_token") != "" || f.Get("actor_token_type") != "":
		return exchangeError("invalid_request", "actor_token is not supported.")
	case f.Get("requested_token_type") != "" && f.Get("requested_token_type") != TokenTypeAccessToken:
		return exchangeError("invalid_request", "requested_token_type must be "+TokenTypeAccessToken+" (the only type issued).")
	case len(f["audience"]) > 0:
		return exchangeError("invalid_target", "audience is not supported: name the credential as resource.")
	case len(r.GetRequestedScopes()) > 0:
		return exchangeError("invalid_scope", "scope is not supported: the provider's token carries the credential's scopes.")
	}
	return nil
}

// PopulateTokenEndpointResponse checks the subject token and the
// credential, and answers the provider's access token.
func (x *Exchange) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !x.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	client, ok := r.GetClient().(*oauth.Client)
	if !ok {
		return fosite.ErrServerError
	}
	f := r.GetRequestForm()
	pr, err := x.Checker.Check(ctx, f.Get("subject_token"))
	if err != nil {
		if errors.Is(err, projections.ErrUnavailable) {
			return err
		}
		return exchangeError("invalid_request", "The subject_token is not an active access token of this server.")
	}
	if pr.ClientID != client.ClientID || pr.Tenant != client.Tenant {
		return exchangeError("invalid_request", "The subject_token must be the authenticated client's own access token.")
	}
	if !pr.Has(ScopeUse) {
		return &fosite.RFC6749Error{ErrorField: "unauthorized_client", CodeField: http.StatusBadRequest,
			DescriptionField: "The subject_token lacks the scope " + ScopeUse + "."}
	}
	// Every refusal about the credential reads the same: whether a
	// credential exists is not told to an app that may not use it.
	refused := exchangeError("invalid_target", "The resource is not a credential this app may exchange for.")
	cred, err := Resolve(ctx, x.Vault, pr, f.Get("resource"))
	var prob *httpapi.Problem
	switch {
	case errors.As(err, &prob):
		return refused
	case err != nil:
		return err
	case !cred.Exchangeable || Allowed(pr, cred) != nil:
		return refused
	}
	now := x.Now()
	tok, _, err := Token(ctx, x.Vault, &x.flights, cred, now)
	if err != nil {
		if errors.As(err, &prob) {
			return exchangeError("invalid_target", "The credential has no usable access token: "+prob.Detail)
		}
		return err
	}
	// Its expiry, as read after any refresh.
	if c, err := projections.GetCredential(ctx, x.Vault.Store, cred.Tenant, cred.ID); err == nil {
		cred = c
	}
	resp.SetAccessToken(tok)
	resp.SetTokenType("Bearer")
	resp.SetExtra("issued_token_type", TokenTypeAccessToken)
	if exp := cred.ExpiresAt(); exp != nil {
		resp.SetExtra("expires_in", int64(max(exp.Sub(now), 0)/time.Second))
	}
	x.Usage.exchanged(cred.Tenant, cred.ID, client.AppID)
	return nil
}

// CanSkipClientAuth: the client authenticates as at every grant.
func (x *Exchange) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

// CanHandleTokenEndpointRequest: the token-exchange grant.
func (x *Exchange) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantTypes().ExactOne(GrantTypeTokenExchange)
}
