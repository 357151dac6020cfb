package proxy

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
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
// (subject_token) and names a credential (resource or audience); it gets
// the credential's current access token at the provider and its
// remaining lifetime, never the refresh token.
//
// Who may: the client authenticated at the token endpoint (a
// confidential one: a public client proves nothing), whose own token the
// subject_token is (same app, so same tenant), approved credentials:use
// and the subject_token holding it, named in the credential's grants,
// the credential exchangeable (and, for a user's own credential, a
// subject_token of that user). The grant type needs no approval of its
// own as authorization_code does: what it hands out is decided by two
// approvals already, the credentials:use scope approved for the app and
// the credential's grants and exchangeable set by a credentials:write
// admin.
type Exchange struct {
	// Issuer is the server's issuer, the base of a credential's URI.
	Issuer  string
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

// HandleTokenEndpointRequest checks the client and validates the
// request's form (RFC 8693 §2.1); the answer is made in
// PopulateTokenEndpointResponse. A client that may not use the grant is
// unauthorized_client (RFC 6749 §5.2) whatever it sends: a public client
// (it proves nothing of who it is, and the provider's token would go to
// whoever holds the subject token), or one not approved credentials:use.
func (x *Exchange) HandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) error {
	if !x.CanHandleTokenEndpointRequest(context.Background(), r) {
		return fosite.ErrUnknownRequest
	}
	client, ok := r.GetClient().(*oauth.Client)
	switch {
	case !ok:
		return fosite.ErrServerError
	case client.IsPublic():
		return unauthorized("The token exchange needs client authentication: a public client may not use it.")
	case !slices.Contains(client.Approved, ScopeUse):
		return unauthorized("The client is not approved the scope " + ScopeUse + ", which the token exchange needs.")
	}
	f := r.GetRequestForm()
	switch {
	case f.Get("subject_token") == "":
		return exchangeError("invalid_request", "subject_token is required: the app's own access token.")
	case f.Get("subject_token_type") == "":
		return exchangeError("invalid_request", "subject_token_type is required: "+TokenTypeAccessToken+".")
	case f.Get("subject_token_type") != TokenTypeAccessToken:
		return exchangeError("invalid_request", "subject_token_type must be "+TokenTypeAccessToken+" (the only type accepted).")
	case f.Get("actor_token") != "" && f.Get("actor_token_type") == "":
		return exchangeError("invalid_request", "actor_token_type is required with actor_token (and actor_token is not supported).")
	case f.Get("actor_token") == "" && f.Get("actor_token_type") != "":
		return exchangeError("invalid_request", "actor_token_type must not be sent without actor_token.")
	case f.Get("actor_token") != "":
		return exchangeError("invalid_request", "actor_token is not supported: the subject_token alone is the app's.")
	case f.Get("requested_token_type") != "" && f.Get("requested_token_type") != TokenTypeAccessToken:
		return exchangeError("invalid_request", "requested_token_type must be "+TokenTypeAccessToken+" (the only type issued).")
	case len(f["resource"]) > 1 || len(f["audience"]) > 1:
		return exchangeError("invalid_target", "Name one credential: one resource, one audience, or one of each naming the same credential.")
	case f.Get("resource") == "" && f.Get("audience") == "":
		return exchangeError("invalid_target", "resource (or audience) must name the credential: its id, its name, or its URI "+x.credentialsURI()+"{id}.")
	case len(r.GetRequestedScopes()) > 0:
		return exchangeError("invalid_scope", "scope is not supported: the provider's token carries the credential's scopes.")
	}
	return nil
}

func unauthorized(description string) error {
	return &fosite.RFC6749Error{ErrorField: "unauthorized_client", DescriptionField: description, CodeField: http.StatusBadRequest}
}

// credentialsURI is the prefix of a credential's URI in this API.
func (x *Exchange) credentialsURI() string { return x.Issuer + "/v1/credentials/" }

// targets are the credential references of the request: resource (RFC
// 8693 §2.1: an absolute URI; the credential's URI in this API, or its id
// or name as API.md has it) and audience (the "logical name of the target
// service": its id or name), in that order, each at most once.
func (x *Exchange) targets(f url.Values) []string {
	var refs []string
	if res := f.Get("resource"); res != "" {
		if rest, ok := strings.CutPrefix(res, x.credentialsURI()); ok {
			if ref, err := url.PathUnescape(rest); err == nil && ref != "" && !strings.Contains(rest, "/") {
				res = ref
			}
		}
		refs = append(refs, res)
	}
	if aud := f.Get("audience"); aud != "" {
		refs = append(refs, aud)
	}
	return refs
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
	var cred projections.Credential
	var prob *httpapi.Problem
	for i, ref := range x.targets(f) {
		c, err := Resolve(ctx, x.Vault, pr, ref)
		switch {
		case errors.As(err, &prob):
			return refused
		case err != nil:
			return err
		case i > 0 && c.ID != cred.ID: // resource and audience name two
			return refused
		}
		cred = c
	}
	if !cred.Exchangeable || Allowed(pr, cred) != nil {
		return refused
	}
	now := x.Now()
	tok, ver, err := Token(ctx, x.Vault, &x.flights, cred, now)
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
	// RFC 8693 §2.2.1: scope is required when it is not the one requested
	// (none is): the scopes of the token set, as the provider answered
	// them (or as the credential asked, when the provider said nothing).
	if v, ok := cred.FindVersion(ver); ok && len(v.Scopes) > 0 {
		resp.SetExtra("scope", strings.Join(v.Scopes, " "))
	}
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
