package vault

import (
	"context"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/projections"
)

// A PATCH that changes what the provider sees of a credential (its
// scopes, client secret, client_id, auth_url or token_url) invalidates
// the tokens obtained under the old settings:
//
//   - authorization_code and implicit: the provider's consent was given
//     for the old client and scopes, so the credential needs a new one
//     (API.md: "a changed secret or scopes needs reauthorization where
//     the grant is interactive"). credential.updated carries Reauthorize:
//     the status turns pending_authorization, the stored token sets are
//     no longer served, refreshed or rolled back to, and
//     POST /v1/credentials/{id}/authorize gives the URL of the new
//     authorization (an authorization started before the change is
//     refused at the callback: authorize.go).
//   - client_credentials and password: the PATCH asks the provider for a
//     token set with the new settings before anything is stored (reason
//     "updated"); a refusal is 502 upstream_error and changes nothing.

// providerChange reports whether u changes what the provider sees of c:
// its settings digest (a new client secret always does: it is sealed
// afresh).
func providerChange(c projections.Credential, u events.CredentialUpdated) bool {
	return settingsDigest(withProviderChange(c, u)) != settingsDigest(c)
}

// unlessSame is p, or nil when it holds v already.
func unlessSame(p *string, v string) *string {
	if p != nil && *p == v {
		return nil
	}
	return p
}

// checkProviderPatch checks a PATCH's client_id, auth_url and token_url
// of cur (the URLs only for provider custom).
func (a *API) checkProviderPatch(ctx context.Context, cur projections.Credential, req patchRequest, bad func(field, msg string)) (clientID, authURL, tokenURL *string) {
	if req.ClientID != nil {
		if *req.ClientID == "" {
			bad("client_id", "is required")
		} else if msg := checkText(*req.ClientID, 512); msg != "" {
			bad("client_id", msg)
		}
	}
	for _, f := range []struct {
		name     string
		v        *string
		required bool
	}{{"auth_url", req.AuthURL, interactive(cur.GrantType)}, {"token_url", req.TokenURL, cur.GrantType != GrantImplicit}} {
		switch {
		case f.v == nil:
		case cur.Provider != "custom":
			bad(f.name, "is set by the provider's preset; only provider custom takes it")
		case *f.v == "" && f.required:
			bad(f.name, "is required for this credential's grant_type")
		case *f.v != "":
			if msg := a.checkURL(ctx, *f.v); msg != "" {
				bad(f.name, msg)
			}
		}
	}
	return req.ClientID, req.AuthURL, req.TokenURL
}

// withProviderChange is c with what u changes of its provider side.
func withProviderChange(c projections.Credential, u events.CredentialUpdated) projections.Credential {
	if u.Scopes != nil {
		c.Scopes = *u.Scopes
	}
	for _, f := range []struct {
		to   *string
		from *string
	}{{&c.ClientID, u.ClientID}, {&c.TokenURL, u.TokenURL}, {&c.AuthURL, u.AuthURL}, {&c.ClientSecretSealed, u.ClientSecretSealed}} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
	return c
}

// patchTokens asks the provider for a token set of the client_credentials
// or password credential cur as u changes it (secret: the new client
// secret, nil: unchanged).
func (a *API) patchTokens(ctx context.Context, cur projections.Credential, u events.CredentialUpdated, secret *string) (grantAnswer, error) {
	view := withProviderChange(cur, u)
	oldSecret, password, err := a.openSecrets(cur)
	if err != nil {
		return grantAnswer{}, err
	}
	if secret == nil {
		secret = &oldSecret
	}
	client, err := a.clientFor(ctx, view)
	if err != nil {
		return grantAnswer{}, err
	}
	answer, err := requestToken(ctx, client, endpointOf(view, *secret), grantForm(view, password))
	if err != nil {
		if ctx.Err() != nil {
			return grantAnswer{}, ctx.Err()
		}
		return grantAnswer{}, httpapi.UpstreamError(errorDetail(view.Provider, err))
	}
	return answer, nil
}
