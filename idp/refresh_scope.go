package idp

import (
	"context"
	"slices"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
)

// refreshScopes is fosite's refresh grant with RFC 6749 §6's scope
// parameter, which fosite v0.49 ignores: a scope the refresh token was not
// granted is invalid_scope (§5.2; a widening request was answered 200
// with the old scopes), and a narrower scope narrows the access token
// issued (its claims, token.minted, the answer's scope, and whether an ID
// token comes with it) while the refresh token keeps the grant's scopes
// ("identical to that of the refresh token included by the client": they
// are the grant's, not the request's, see grants.request).
type refreshScopes struct {
	*oauth2.RefreshTokenGrantHandler
}

// HandleTokenEndpointRequest implements fosite.TokenEndpointHandler.
func (h refreshScopes) HandleTokenEndpointRequest(ctx context.Context, req fosite.AccessRequester) error {
	asked := slices.Clone(req.GetRequestedScopes())
	if err := h.RefreshTokenGrantHandler.HandleTokenEndpointRequest(ctx, req); err != nil {
		return err
	}
	for _, s := range asked {
		if !req.GetGrantedScopes().Has(s) {
			return fosite.ErrInvalidScope.WithHintf("The scope '%s' was not granted to this refresh token.", s)
		}
	}
	if len(asked) == 0 {
		return nil
	}
	r, ok := req.(*fosite.AccessRequest)
	if !ok {
		return fosite.ErrServerError.WithDebugf("idp: a refresh request of type %T cannot be narrowed", req)
	}
	r.GrantedScope = slices.DeleteFunc(slices.Clone(r.GrantedScope), func(s string) bool { return !slices.Contains(asked, s) })
	return nil
}
