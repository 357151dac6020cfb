package oauth

import (
	"errors"
	"net/url"
	"slices"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"
)

// multiValued are the parameters an extension lets a request repeat:
// resource (RFC 8707 §2, RFC 8693 §2.1) and audience (RFC 8693 §2.1).
// The handler that reads them judges how many it takes (token exchange
// answers invalid_target to more than one resource).
var multiValued = map[string]bool{"resource": true, "audience": true}

// RepeatedParam is the first name (in sorted order) that form holds more
// than once, or "". RFC 6749 §3.1 and §3.2: request parameters "MUST NOT
// be included more than once"; fosite reads the first value of each and
// would let the others pass unseen.
func RepeatedParam(form url.Values) string {
	var names []string
	for k, v := range form {
		if len(v) > 1 && !multiValued[k] {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return slices.Min(names)
}

// ErrRepeatedParam is the invalid_request (RFC 6749 §5.2: "includes a
// parameter more than once") of a request repeating name.
func ErrRepeatedParam(name string) error {
	return fosite.ErrInvalidRequest.WithHintf("The request includes the parameter '%s' more than once.", name)
}

// singleParams answers invalid_request to a request of the token,
// introspection, revocation or PAR endpoint whose body repeats a
// parameter, before anything else is read.
func (o *Server) singleParams(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := c.Request().ParseForm(); err != nil {
			if p, ok := tooLarge(err); ok {
				return p
			}
		}
		if name := RepeatedParam(c.Request().PostForm); name != "" {
			return o.oauthError(c, ErrRepeatedParam(name))
		}
		return next(c)
	}
}

// AuthorizeRequestError is the error of fosite's NewAuthorizeRequest or
// NewPushedAuthorizeRequest, err for ar, as this server answers it: a
// request without response_type is invalid_request (RFC 6749 §4.1.2.1:
// "missing a required parameter"; fosite says unsupported_response_type,
// which is for a response type the server does not support), and the
// state as StateOrPKCE judges it.
func AuthorizeRequestError(ar fosite.AuthorizeRequester, err error) error {
	if ar != nil && errors.Is(err, fosite.ErrUnsupportedResponseType) && ar.GetRequestForm().Get("response_type") == "" {
		return fosite.ErrInvalidRequest.WithHint("The request is missing the 'response_type' parameter: send response_type=code.")
	}
	return StateOrPKCE(ar, err)
}

// StateOrPKCE is the error of fosite's NewAuthorizeRequest or
// NewPushedAuthorizeRequest, err for ar, less its refusal of a request
// that sends no state but a PKCE challenge. fosite asks every request
// for a state of 8 characters or more; RFC 9700 §2.1 and §4.7.1 let a
// client rely on PKCE for CSRF protection instead, and clients do
// (openid-client 6 sends no state to a server that supports S256). A
// state that is sent keeps fosite's rule, its refusal answered as
// ErrWeakState. The state check is the last of fosite's authorization
// request's, so ar is whole when it is the one that failed; the pushed
// request's own check after it (openid needs redirect_uri) is made here.
func StateOrPKCE(ar fosite.AuthorizeRequester, err error) error {
	if !errors.Is(err, fosite.ErrInvalidState) {
		return err
	}
	if ar == nil || ar.GetState() != "" || ar.GetRequestForm().Get("code_challenge") == "" {
		return ErrWeakState
	}
	if ar.GetRequestedScopes().Has("openid") && ar.GetRequestForm().Get("redirect_uri") == "" {
		return fosite.ErrInvalidRequest.WithHint("Query parameter 'redirect_uri' is required when performing an OpenID Connect flow.")
	}
	return nil
}

// ErrWeakState is fosite's refusal of a request without a state of 8
// characters or more (and without PKCE) as the invalid_request it is:
// fosite answers invalid_state, which is none of the error codes RFC 6749
// §4.1.2.1 and §5.2 allow nor registered (§8.5), so that a client reading
// the code by the RFC does not know it.
var ErrWeakState = fosite.ErrInvalidRequest.WithHint("The state is missing or has fewer than 8 characters: send a state of 8 characters or more, or a PKCE code_challenge.")
