package oauth

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/httpapi"
)

// principalKey is where the authenticated Principal lives in an echo
// context.
const principalKey = "gatehouse.principal"

// Authenticator guards the platform API: a bearer access token of this
// server, active (TokenChecker), carrying the endpoint's scope
// (API.md "Authentication of the platform API").
type Authenticator struct {
	Checker *TokenChecker
	// Limits are the abuse limits: failed authentications per source
	// address, requests per authenticated client. nil: none.
	Limits *httpapi.Limiter
}

// Require returns middleware admitting callers whose token carries scope;
// an empty scope admits any active token. No or a bad token is 401 with
// WWW-Authenticate; a missing scope is 403 insufficient_scope.
func (a *Authenticator) Require(scope string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, err := a.Authenticate(c, scope)
			if err != nil {
				return err
			}
			c.Set(principalKey, p)
			return next(c)
		}
	}
}

// Authenticate is what Require does, for a handler that authenticates its
// caller itself: it returns the principal instead of storing it in c (a
// map and the principal boxed, per request).
func (a *Authenticator) Authenticate(c echo.Context, scope string) (Principal, error) {
	return a.AuthenticateRequest(c.Request(), scope)
}

// AuthenticateRequest is Authenticate for a request served outside echo
// (the credential proxy's connections, package proxy).
func (a *Authenticator) AuthenticateRequest(r *http.Request, scope string) (Principal, error) {
	return a.AuthenticateHeader(r.Context(), r.Header.Get("Authorization"), r.RemoteAddr, scope)
}

// AuthenticateHeader is Authenticate for a request read outside net/http
// (the credential proxy's lane, package proxy): authorization is its
// Authorization header, remote its peer's address (host:port).
func (a *Authenticator) AuthenticateHeader(ctx context.Context, authorization, remote, scope string) (Principal, error) {
	p, err := a.limited(ctx, authorization, remote)
	if err != nil {
		return Principal{}, err
	}
	if err := a.Admit(p, scope); err != nil {
		return Principal{}, err
	}
	return p, nil
}

// limited authenticates r's caller within the abuse limits: an address
// whose failure budget is spent gets 429 before its token is looked at, a
// failure spends that budget, and an authenticated caller spends its
// client's request budget (API.md "Authentication of the platform API").
func (a *Authenticator) limited(ctx context.Context, authorization, remote string) (Principal, error) {
	addr := hostOf(remote)
	if a.Limits.Suspect(addr) {
		if wait, ok := a.Limits.Admit("", addr); !ok {
			return Principal{}, httpapi.RateLimited(wait)
		}
	}
	p, err := a.authenticate(ctx, authorization)
	if err != nil {
		// Declared here: errors.As makes it escape, an allocation that
		// an admitted request need not make.
		var prob *httpapi.Problem
		if errors.As(err, &prob) && prob.Status == http.StatusUnauthorized {
			a.Limits.Failed("platform", "", addr)
		}
	}
	return p, err
}

// Admit is what Require does once the caller is authenticated: p spends
// one request of its client's platform budget (429), then must carry
// scope (403 insufficient_scope; "" admits any caller). An in-process
// read (a GraphQL field, a console page, calling an authz read function
// for a caller Require already admitted) goes through it too, so it is
// limited and refused exactly as the REST route it stands for.
func (a *Authenticator) Admit(p Principal, scope string) error {
	if wait, ok := a.Limits.Spend(httpapi.BudgetPlatform, p.ClientID); !ok {
		return httpapi.RateLimited(wait)
	}
	if scope != "" && !p.Has(scope) {
		return httpapi.InsufficientScope(scope)
	}
	return nil
}

func (a *Authenticator) authenticate(ctx context.Context, authorization string) (Principal, error) {
	if p, ok := ctx.Value(inProcessKey{}).(Principal); ok {
		return p, nil
	}
	tok, ok := BearerOf(authorization)
	if !ok || tok == "" {
		return Principal{}, httpapi.Unauthorized("a bearer access token is required")
	}
	p, err := a.Checker.Check(ctx, tok)
	if err != nil {
		if isInactive(err) {
			return Principal{}, httpapi.Unauthorized(inactiveReason(err))
		}
		return Principal{}, err
	}
	return p, nil
}

// inProcessKey marks a request the server sends to itself (the admin
// console) on behalf of a person it has authenticated.
type inProcessKey struct{}

// InProcess returns ctx carrying p as the caller of a request the server
// dispatches to its own router in-process: Require admits it as if p's
// token had been checked, then applies the same scope check, limits and
// handlers. A context value never comes from the network, so no client
// can claim it.
func InProcess(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, inProcessKey{}, p)
}

// SetPrincipal records p as c's caller, as Require does once p's token is
// checked (for handlers driven without the middleware, e.g. in tests).
func SetPrincipal(c echo.Context, p Principal) { c.Set(principalKey, p) }

// PrincipalOf returns the caller admitted by Require.
func PrincipalOf(c echo.Context) Principal {
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
