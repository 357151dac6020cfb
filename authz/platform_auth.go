package authz

import (
	"context"
	"errors"

	"github.com/labstack/echo/v4"
)

// principalKey is where the authenticated Principal lives in an echo
// context.
const principalKey = "gatehouse.principal"

// Authenticator guards the platform API: a bearer access token of this
// server, active (TokenChecker), carrying the endpoint's scope
// (API.md "Authentication of the platform API").
type Authenticator struct {
	Checker *TokenChecker
}

// Require returns middleware admitting callers whose token carries scope;
// an empty scope admits any active token. No or a bad token is 401 with
// WWW-Authenticate; a missing scope is 403 insufficient_scope.
func (a *Authenticator) Require(scope string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, err := a.authenticate(c.Request().Context(), c)
			if err != nil {
				return err
			}
			if scope != "" && !p.Has(scope) {
				return InsufficientScope(scope)
			}
			c.Set(principalKey, p)
			return next(c)
		}
	}
}

func (a *Authenticator) authenticate(ctx context.Context, c echo.Context) (Principal, error) {
	tok, ok := bearer(c.Request())
	if !ok || tok == "" {
		return Principal{}, Unauthorized("a bearer access token is required")
	}
	p, err := a.Checker.Check(ctx, tok)
	if err != nil {
		if isInactive(err) {
			return Principal{}, Unauthorized(inactiveReason(err))
		}
		return Principal{}, err
	}
	return p, nil
}

// principal returns the caller admitted by Require.
func principal(c echo.Context) Principal {
	p, _ := c.Get(principalKey).(Principal)
	return p
}

// inactiveReason says why a token is refused in the server's own words:
// the sentence of the sentinel err wraps, never the verifier's cause (a
// go-jose error, say), which stays in the error for logs.
func inactiveReason(err error) string {
	for _, s := range []error{errTokenMalformed, errTokenExpired, errTokenIssuer, errTokenAudience, errTokenInactive} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return errTokenInactive.Error()
}
