package oauth

import (
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
