package oauth

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/httpapi"
)

// caller authenticates the client calling introspection or revocation:
// client_secret_basic / client_secret_post / private_key_jwt through
// fosite, or a bearer access token (bearerCaller). A public client (method
// "none") is named by its client_id alone: public reports it, for the
// endpoints that need a credential (introspection).
func (o *Server) caller(ctx context.Context, r *http.Request) (tenant, clientID string, public bool, err error) {
	if tok, ok := bearer(r); ok {
		p, err := o.checker.Check(ctx, tok)
		if httpapi.IsUnavailable(err) {
			return "", "", false, err // the store or the log is away: 503, not "inactive"
		}
		if err != nil {
			return "", "", false, fosite.ErrInvalidClient.WithHint("The bearer token is not active.")
		}
		return bearerCaller(p)
	}
	if noClientAuth(r) {
		return "", "", false, errNoClientAuth // fosite says invalid_request
	}
	var cl fosite.Client
	err = o.authenticate(ctx, func() (err error) {
		cl, err = o.provider.AuthenticateClient(ctx, r, r.PostForm)
		return err
	})
	if err != nil {
		return "", "", false, err
	}
	c := cl.(*Client)
	return c.Tenant, c.GetID(), c.AuthMethod == "none", nil
}

// bearerCaller is the caller an active bearer token p authenticates (API.md:
// the caller of introspection "authenticates as an app"). An app's own
// token (sub is its client_id: client credentials, a service token) of a
// confidential app authenticates that app, as its secret would. A token of
// a public app (the console's, or token_endpoint_auth_method none) proves
// no more than that app's client_id, which anyone may send: it names a
// public caller. A person's token of a confidential app is no credential
// of the app (a person holding it is not the client, and could otherwise
// learn about other tokens): invalid_client. p's app is active, or the
// checker would have refused the token; all this is in p, read no more.
func bearerCaller(p Principal) (tenant, clientID string, public bool, err error) {
	if !p.PublicApp && (p.UserID != "" || p.Subject != p.ClientID) {
		return "", "", false, errPersonBearer
	}
	return p.Tenant, p.ClientID, p.PublicApp, nil
}

// errPersonBearer answers a bearer token issued to a person as the
// credential of a confidential client.
var errPersonBearer = fosite.ErrInvalidClient.WithHint("A token issued to a person does not authenticate its app: use the app's client secret, a client assertion or the app's own bearer token.")

// errNoClientAuth answers a request that authenticates no client: RFC
// 6749 §5.2 makes "no client authentication included" invalid_client (401),
// as RFC 7662 §2.1 and RFC 7009 §2.1 do for their endpoints.
var errNoClientAuth = fosite.ErrInvalidClient.WithHint("Client authentication is required.")

// noClientAuth reports whether r, its form parsed, carries no client
// authentication at all: no HTTP Basic credentials, no client_id, no
// client assertion.
func noClientAuth(r *http.Request) bool {
	_, _, basic := r.BasicAuth()
	return !basic && r.PostForm.Get("client_id") == "" && r.PostForm.Get("client_assertion") == ""
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	return BearerOf(r.Header.Get("Authorization"))
}

// BearerOf is the token of Authorization header h when it holds Bearer
// credentials (RFC 6750 §2.1; the scheme compared without case). Every
// endpoint that takes a bearer token reads the header with it.
func BearerOf(h string) (string, bool) {
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

// presented is the token an introspection or revocation request names,
// as the checker found it, active for the caller's tenant, and the
// caller's client id.
type presented struct {
	clientID string
	p        Principal
}

// tokenRoute is what introspection and revocation share: it reads the
// request (tokenRequest), spends from the caller's budget and checks the
// token; an RFC 6749 error and a 429 are answered here. A token that does
// not check, or is of another tenant than the caller's (unknown here, like
// garbage: saying more would tell that it exists), is answered by
// inactive; an active one by active.
func (o *Server) tokenRoute(e tokenEndpoint) echo.HandlerFunc {
	return func(c echo.Context) error {
		req, err := o.tokenRequest(c, e.publicClients)
		if err != nil {
			return o.oauthError(c, err)
		}
		if !o.spend(c, req.clientID) {
			return nil
		}
		p, err := o.checker.Check(c.Request().Context(), req.token)
		if err != nil && !isInactive(err) {
			return err
		}
		if err != nil || p.Tenant != req.tenant {
			return e.inactive(c, req)
		}
		return e.active(c, presented{clientID: req.clientID, p: p})
	}
}

// tokenEndpoint is what introspection and revocation do differently:
// whether a public client may call (revocation: RFC 7009 §2.1 lets one
// revoke its own tokens; introspection: RFC 7662 §2.1 wants a credential),
// and their answers for a token the checker does not find active (not an
// access token of the caller's tenant: perhaps a refresh token) and for
// an active one.
type tokenEndpoint struct {
	publicClients bool
	inactive      func(c echo.Context, req tokenReq) error
	active        func(c echo.Context, pt presented) error
}

// tokenReq is an introspection or revocation request: the caller's
// tenant and client id, and the token it names.
type tokenReq struct {
	tenant, clientID, token string
}

// errPublicCaller answers a public client at an endpoint that needs the
// caller to authenticate: its client_id is known to anyone.
var errPublicCaller = fosite.ErrInvalidClient.WithHint("A public client (token_endpoint_auth_method none) cannot authenticate here, nor can a token of one: use a client secret, a client assertion or a confidential app's own bearer token.")

// tokenRequest reads the form, the authenticated caller and the token
// parameter (RFC 7662 §2.1, RFC 7009 §2.1).
func (o *Server) tokenRequest(c echo.Context, publicClients bool) (tokenReq, error) {
	r := c.Request()
	if err := parseOAuthForm(r); err != nil {
		return tokenReq{}, err
	}
	tenant, clientID, public, err := o.caller(r.Context(), r)
	if err != nil {
		return tokenReq{}, err
	}
	if public && !publicClients {
		return tokenReq{}, errPublicCaller
	}
	token := r.PostForm.Get("token")
	if token == "" {
		return tokenReq{}, fosite.ErrInvalidRequest.WithHint("The 'token' parameter is required.")
	}
	return tokenReq{tenant: tenant, clientID: clientID, token: token}, nil
}

// parseOAuthForm parses an RFC 6749 form body.
func parseOAuthForm(r *http.Request) error {
	if r.Method != http.MethodPost {
		return fosite.ErrInvalidRequest.WithHint("Use POST.")
	}
	if err := r.ParseForm(); err != nil {
		if p, ok := tooLarge(err); ok {
			return p
		}
		return fosite.ErrInvalidRequest.WithHint("The request body is not a valid form.")
	}
	return nil
}

func timeUnix(s int64) time.Time { return time.Unix(s, 0).UTC() }
