package idp

import (
	"context"
	"slices"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
)

// refreshScopes is fosite's refresh grant refusing a scope parameter that
// names a scope the refresh token was not granted (RFC 6749 §6: the
// requested scope "MUST NOT include any scope not originally granted";
// §5.2 invalid_scope). fosite v0.49 ignores the parameter: a widening
// request was answered 200 with the old scopes.
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
	return nil
}
