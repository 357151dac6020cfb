package oauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/projections"
)

// token serves POST /v1/oauth/token (RFC 6749 §3.2). Granted scopes are
// requested ∩ approved; no scope parameter means every approved scope;
// a scope that is not approved is invalid_scope (fosite's scope check
// against Client.GetScopes).
func (o *Server) token(c echo.Context) error {
	ctx := c.Request().Context()
	if err := c.Request().ParseForm(); err != nil {
		if p, ok := tooLarge(err); ok {
			return p
		}
	}
	if gt := c.Request().PostForm.Get("grant_type"); gt != "" && !slices.Contains(tokenGrants, gt) {
		return o.oauthError(c, fosite.ErrUnsupportedGrantType) // fosite says invalid_request
	}
	if noClientAuth(c.Request()) {
		return o.oauthError(c, errNoClientAuth) // fosite says invalid_request
	}
	var sess *Session
	var ar fosite.AccessRequester
	err := o.authenticate(ctx, func() (err error) {
		sess = &Session{}
		ar, err = o.provider.NewAccessRequest(ctx, c.Request(), sess)
		return err
	})
	if err != nil {
		return o.oauthError(c, err)
	}
	client := ar.GetClient().(*Client)
	if !o.spend(c, client.ClientID) {
		return nil
	}
	sess.Subject, sess.Tenant, sess.AppID = client.ClientID, client.Tenant, client.AppID
	sess.GrantType = strings.Join(ar.GetGrantTypes(), " ")
	if len(ar.GetRequestedScopes()) == 0 {
		ar.SetRequestedScopes(client.Approved)
	}
	for _, s := range ar.GetRequestedScopes() {
		ar.GrantScope(s)
	}
	resp, err := o.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		return o.oauthError(c, err)
	}
	return writeAccessResponse(c, resp)
}

// writeAccessResponse writes the token endpoint's answer (RFC 6749 §5.1)
// with token_type "Bearer" as RFC 6750 §6.1.1 registers it (fosite writes
// "bearer"; clients that compare case-sensitively refuse it).
func writeAccessResponse(c echo.Context, resp fosite.AccessResponder) error {
	body := resp.ToMap()
	body["token_type"] = "Bearer"
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	return c.JSON(http.StatusOK, body)
}

// tokenGrants are the grant types the token endpoint has a handler for.
var tokenGrants = []string{"client_credentials"}

// rfcError returns err when it is an RFC 6749 error. Any other error (a
// failed signature, a failed append) would reach the client as fosite's
// non-standard {"error": "error"}: it becomes temporarily_unavailable (503)
// when the log is unreachable and server_error (500) otherwise, and its
// cause is logged, never shown (RFC 6749 §5.2, §4.1.2.1).
func (o *Server) rfcError(c echo.Context, err error) error {
	var rfc *fosite.RFC6749Error
	unavailable := errors.Is(err, events.ErrUnavailable) || errors.Is(err, projections.ErrUnavailable)
	if errors.As(err, &rfc) && (!unavailable || rfc.ErrorField == fosite.ErrTemporarilyUnavailable.ErrorField) {
		return err
	}
	o.cfg.Logger.LogAttrs(c.Request().Context(), slog.LevelError, "token request failed",
		slog.String("request_id", httpapi.RequestID(c)), slog.String("error", err.Error()))
	if unavailable { // also when fosite wrapped it, e.g. as invalid_client from GetClient
		return fosite.ErrTemporarilyUnavailable.WithWrap(err)
	}
	return fosite.ErrServerError.WithWrap(err)
}

// caller authenticates the client calling introspection or revocation:
// client_secret_basic / client_secret_post / private_key_jwt through
// fosite, or a bearer access token of an app.
func (o *Server) caller(ctx context.Context, r *http.Request) (tenant, clientID string, err error) {
	if tok, ok := bearer(r); ok {
		p, err := o.checker.Check(ctx, tok)
		if errors.Is(err, events.ErrUnavailable) || errors.Is(err, projections.ErrUnavailable) {
			return "", "", err // the store or the log is away: 503, not "inactive"
		}
		if err != nil {
			return "", "", fosite.ErrInvalidClient.WithHint("The bearer token is not active.")
		}
		return p.Tenant, p.ClientID, nil
	}
	if noClientAuth(r) {
		return "", "", errNoClientAuth // fosite says invalid_request
	}
	var cl fosite.Client
	err = o.authenticate(ctx, func() (err error) {
		cl, err = o.provider.AuthenticateClient(ctx, r, r.PostForm)
		return err
	})
	if err != nil {
		return "", "", err
	}
	return cl.(*Client).Tenant, cl.GetID(), nil
}

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
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), true
	}
	return "", false
}

// introspect serves POST /v1/oauth/introspect (RFC 7662). A token of
// another tenant than the caller's is inactive, as is any token that is
// expired, revoked, or whose app is inactive or gone; an active token's
// scope is what is still approved.
func (o *Server) introspect(c echo.Context) error {
	ctx := c.Request().Context()
	tenant, clientID, token, err := o.tokenRequest(c)
	if err != nil {
		return o.oauthError(c, err)
	}
	if !o.spend(c, clientID) {
		return nil
	}
	p, err := o.checker.Check(ctx, token)
	if err != nil || p.Tenant != tenant {
		if err != nil && !isInactive(err) {
			return err
		}
		return c.JSON(http.StatusOK, map[string]bool{"active": false})
	}
	cl := p.Claims
	return c.JSON(http.StatusOK, Introspection{
		Active: true, Scope: strings.Join(p.Scopes, " "), ClientID: cl.ClientID, Subject: cl.Subject,
		Audience: cl.Audience, Issuer: cl.Issuer, ExpiresAt: cl.ExpiresAt, IssuedAt: cl.IssuedAt,
		JTI: cl.JTI, Tenant: cl.Tenant, TokenType: "Bearer",
	})
}

// tokenRequest reads what introspection and revocation share: the form,
// the authenticated caller and the token parameter (RFC 7662 §2.1, RFC
// 7009 §2.1).
func (o *Server) tokenRequest(c echo.Context) (tenant, clientID, token string, err error) {
	r := c.Request()
	if err := parseOAuthForm(r); err != nil {
		return "", "", "", err
	}
	if tenant, clientID, err = o.caller(r.Context(), r); err != nil {
		return "", "", "", err
	}
	if token = r.PostForm.Get("token"); token == "" {
		return "", "", "", fosite.ErrInvalidRequest.WithHint("The 'token' parameter is required.")
	}
	return tenant, clientID, token, nil
}

// Introspection is an active token's RFC 7662 §2.2 answer.
type Introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope"`
	ClientID  string   `json:"client_id"`
	Subject   string   `json:"sub"`
	Audience  []string `json:"aud"`
	Issuer    string   `json:"iss"`
	ExpiresAt int64    `json:"exp"`
	IssuedAt  int64    `json:"iat"`
	JTI       string   `json:"jti"`
	Tenant    string   `json:"tid"`
	TokenType string   `json:"token_type"`
}

// isInactive reports whether err says "this token is not active" rather
// than "the server failed".
func isInactive(err error) bool {
	return errors.Is(err, errTokenInactive) || errors.Is(err, errTokenMalformed) ||
		errors.Is(err, errTokenExpired) || errors.Is(err, errTokenIssuer) || errors.Is(err, errTokenAudience)
}

// revoke serves POST /v1/oauth/revoke (RFC 7009). The caller may revoke
// its own tokens; an invalid or unknown token is answered 200 (§2.2); a
// token of another client is refused with unauthorized_client.
func (o *Server) revoke(c echo.Context) error {
	ctx := c.Request().Context()
	tenant, clientID, token, err := o.tokenRequest(c)
	if err != nil {
		return o.oauthError(c, err)
	}
	if !o.spend(c, clientID) {
		return nil
	}
	p, err := o.checker.Check(ctx, token)
	if err != nil {
		if isInactive(err) {
			return c.NoContent(http.StatusOK)
		}
		return err
	}
	if p.Tenant != tenant {
		// Another tenant's token is unknown here, like garbage: saying
		// more would tell that it exists.
		return c.NoContent(http.StatusOK)
	}
	if p.ClientID != clientID {
		return o.oauthError(c, fosite.ErrUnauthorizedClient.WithHint("A client may only revoke its own tokens."))
	}
	if err := o.appendRevocation(ctx, p); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}

// appendRevocation appends token.revoked and waits until the projections
// have applied it, so the token is refused as soon as the answer is out.
func (o *Server) appendRevocation(ctx context.Context, p Principal) error {
	ev, err := events.New(
		events.Ref{Tenant: p.Tenant, Type: events.AggToken, ID: p.AppID},
		events.Actor{Kind: events.ActorApp, ID: p.AppID},
		o.cfg.Now(),
		&events.TokenRevoked{JTI: p.Claims.JTI, AppID: p.AppID, ExpiresAt: timeUnix(p.Claims.ExpiresAt),
			GraceSeconds: o.cfg.revocationGraceSeconds()})
	if err != nil {
		return err
	}
	res, err := o.cfg.Log.Append(ctx, events.Append{Events: []events.Event{ev}, DedupeID: "revoke-" + p.Claims.JTI})
	if err != nil {
		return err
	}
	return o.cfg.WaitFor(ctx, res.Stream, res.Last())
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

// tooLarge returns the 413 problem when err is the body limit's (a body
// sent without Content-Length passed it; one that declared a larger length
// never reached the handler), as on every other endpoint.
func tooLarge(err error) (*httpapi.Problem, bool) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return httpapi.PayloadTooLarge(mbe.Limit), true
	}
	return nil, false
}

// oauthError is the one writer of RFC 6749 §5.2 errors, for the token,
// introspection and revocation endpoints. A 401 challenges with the scheme
// the client used (§5.2): Bearer when it sent a bearer token, Basic
// otherwise (the scheme it used, or the one the server supports when it
// authenticated in the form). The description is fosite's sentence for
// the code plus the hint of the error, unless the hint quotes a library's
// error; the cause is then only logged.
func (o *Server) oauthError(c echo.Context, err error) error {
	if p, ok := err.(*httpapi.Problem); ok {
		return p // 413 from parseOAuthForm
	}
	rfc := fosite.ErrorToRFC6749Error(o.rfcError(c, err))
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if rfc.CodeField == http.StatusServiceUnavailable {
		h.Set("Retry-After", "5")
	}
	if rfc.CodeField == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", challenge(c.Request()))
	}
	return c.JSON(rfc.CodeField, map[string]string{"error": rfc.ErrorField, "error_description": o.describe(c, rfc)})
}

// challenge is the WWW-Authenticate value of a 401 to r (RFC 6749 §5.2,
// RFC 6750 §3).
func challenge(r *http.Request) string {
	if _, ok := bearer(r); ok {
		return `Bearer realm="gatehouse", error="invalid_token"`
	}
	return `Basic realm="gatehouse"`
}

// describe returns the error_description of rfc in the server's own words:
// fosite's description of the code, and the hint when it is a sentence of
// ours or fosite's rather than a library's error text.
func (o *Server) describe(c echo.Context, rfc *fosite.RFC6749Error) string {
	d := rfc.GetDescription()
	if !quotesLibraryError(d) {
		return d
	}
	o.cfg.Logger.LogAttrs(c.Request().Context(), slog.LevelWarn, "OAuth error detail withheld",
		slog.String("request_id", httpapi.RequestID(c)), slog.String("error", rfc.ErrorField), slog.String("detail", d))
	return strings.ReplaceAll(rfc.DescriptionField, `"`, "'")
}

// libraryErrorMarks are fragments of the error texts of Go libraries
// (go-jose, crypto, encoding) that must never reach a client.
var libraryErrorMarks = []string{"go-jose", "square/", "crypto/", "x509:", "asn1:", "json:", "base64", "strconv.", "runtime error", "%!"}

// quotesLibraryError reports whether s holds a library's error text.
func quotesLibraryError(s string) bool {
	return slices.ContainsFunc(libraryErrorMarks, func(m string) bool { return strings.Contains(s, m) })
}

func timeUnix(s int64) time.Time { return time.Unix(s, 0).UTC() }
