package oauth

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"
)

// PARPath is the pushed authorization request endpoint (RFC 9126).
const PARPath = "/v1/oauth/par"

// PARRequestURIPrefix starts every request_uri the PAR endpoint issues
// (RFC 9126 §2.2).
const PARRequestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// TakeRequestObject takes the request parameter (a request object, OIDC
// Core §6.1, RFC 9101) out of r's parsed form before fosite reads it,
// which it would for an openid request of a client with keys, letting the
// object's claims override the parameters. It reports whether there was
// one: the caller answers ErrRequestObject once fosite has checked the
// client and the redirect URI, for this server supports no request
// objects (discovery: request_parameter_supported false).
func TakeRequestObject(r *http.Request) bool {
	_, ok := r.Form["request"]
	r.Form.Del("request")
	r.PostForm.Del("request")
	return ok
}

// ErrRequestObject answers an authorization request carrying a request
// object (OIDC Core §6.1: request_not_supported).
var ErrRequestObject = fosite.ErrRequestNotSupported.WithHint("Request objects are not supported: send the parameters themselves, or push them (RFC 9126).")

// PushedAuthorize returns the handler of POST /v1/oauth/par (RFC 9126
// §2): the client authenticates exactly as at the token endpoint (same
// methods, same catch-up, same rate limits, the one error writer), its
// authorization request is validated as the authorization endpoint
// would (fosite: client, redirect URI, response type, scopes), then by
// check (the identity provider's own rules, such as PKCE for public
// clients), and fosite's PAR handlers store it. The answer is 201
// {"request_uri", "expires_in"}, never cached.
func (o *Server) PushedAuthorize(check func(context.Context, fosite.AuthorizeRequester) error) echo.HandlerFunc {
	return o.limitAuth("par", o.singleParams(func(c echo.Context) error {
		ctx := c.Request().Context()
		if err := c.Request().ParseForm(); err != nil {
			if p, ok := tooLarge(err); ok {
				return p
			}
		}
		if noClientAuth(c.Request()) {
			return o.oauthError(c, errNoClientAuth)
		}
		object := TakeRequestObject(c.Request())
		var ar fosite.AuthorizeRequester
		err := o.authenticate(ctx, func() (err error) {
			ar, err = o.provider.NewPushedAuthorizeRequest(ctx, c.Request())
			if err = AuthorizeRequestError(ar, err); err == nil && object {
				err = ErrRequestObject
			}
			return err
		})
		if ar != nil {
			if client, ok := ar.GetClient().(*Client); ok && !o.spend(c, client.ClientID) {
				return nil
			}
		}
		if err != nil {
			return o.oauthError(c, err)
		}
		if err := check(ctx, ar); err != nil {
			return o.oauthError(c, err)
		}
		resp, err := o.provider.NewPushedAuthorizeResponse(ctx, ar, &Session{})
		if err != nil {
			return o.oauthError(c, err)
		}
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		return c.JSON(http.StatusCreated, map[string]any{"request_uri": resp.GetRequestURI(), "expires_in": resp.GetExpiresIn()})
	}))
}
