package authz

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/events"
)

// token serves POST /v1/oauth/token (RFC 6749 §3.2). Granted scopes are
// requested ∩ approved; no scope parameter means every approved scope;
// a scope that is not approved is invalid_scope (fosite's scope check
// against Client.GetScopes).
func (o *OAuth) token(c echo.Context) error {
	ctx := c.Request().Context()
	w := c.Response()
	sess := &Session{}
	ar, err := o.provider.NewAccessRequest(ctx, c.Request(), sess)
	if err != nil {
		o.provider.WriteAccessError(ctx, w, ar, err)
		return nil
	}
	client := ar.GetClient().(*Client)
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
		o.provider.WriteAccessError(ctx, w, ar, err)
		return nil
	}
	o.provider.WriteAccessResponse(ctx, w, ar, resp)
	return nil
}

// caller authenticates the client calling introspection or revocation:
// client_secret_basic / client_secret_post / private_key_jwt through
// fosite, or a bearer access token of an app.
func (o *OAuth) caller(ctx context.Context, r *http.Request) (tenant, clientID string, err error) {
	if tok, ok := bearer(r); ok {
		p, err := o.checker.Check(ctx, tok)
		if err != nil {
			return "", "", fosite.ErrInvalidClient.WithHint("The bearer token is not active.")
		}
		return p.Tenant, p.ClientID, nil
	}
	cl, err := o.provider.AuthenticateClient(ctx, r, r.PostForm)
	if err != nil {
		return "", "", err
	}
	return cl.(*Client).Tenant, cl.GetID(), nil
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
func (o *OAuth) introspect(c echo.Context) error {
	ctx := c.Request().Context()
	r := c.Request()
	if err := parseOAuthForm(r); err != nil {
		return o.oauthError(c, err)
	}
	tenant, _, err := o.caller(ctx, r)
	if err != nil {
		return o.oauthError(c, err)
	}
	token := r.PostForm.Get("token")
	if token == "" {
		return o.oauthError(c, fosite.ErrInvalidRequest.WithHint("The 'token' parameter is required."))
	}
	p, err := o.checker.Check(ctx, token)
	if err != nil || p.Tenant != tenant {
		if err != nil && !isInactive(err) {
			return err
		}
		return c.JSON(http.StatusOK, map[string]bool{"active": false})
	}
	cl := p.Claims
	return c.JSON(http.StatusOK, introspection{
		Active: true, Scope: strings.Join(p.Scopes, " "), ClientID: cl.ClientID, Subject: cl.Subject,
		Audience: cl.Audience, Issuer: cl.Issuer, ExpiresAt: cl.ExpiresAt, IssuedAt: cl.IssuedAt,
		JTI: cl.JTI, Tenant: cl.Tenant, TokenType: "Bearer",
	})
}

// introspection is an active token's RFC 7662 §2.2 answer.
type introspection struct {
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
		errors.Is(err, errTokenExpired) || errors.Is(err, errTokenIssuer)
}

// revoke serves POST /v1/oauth/revoke (RFC 7009). The caller may revoke
// its own tokens; an invalid or unknown token is answered 200 (§2.2); a
// token of another client is refused with unauthorized_client.
func (o *OAuth) revoke(c echo.Context) error {
	ctx := c.Request().Context()
	r := c.Request()
	if err := parseOAuthForm(r); err != nil {
		return o.oauthError(c, err)
	}
	tenant, clientID, err := o.caller(ctx, r)
	if err != nil {
		return o.oauthError(c, err)
	}
	token := r.PostForm.Get("token")
	if token == "" {
		return o.oauthError(c, fosite.ErrInvalidRequest.WithHint("The 'token' parameter is required."))
	}
	p, err := o.checker.Check(ctx, token)
	if err != nil {
		if isInactive(err) {
			return c.NoContent(http.StatusOK)
		}
		return err
	}
	if p.Tenant != tenant || p.ClientID != clientID {
		return o.oauthError(c, fosite.ErrUnauthorizedClient.WithHint("A client may only revoke its own tokens."))
	}
	if err := o.appendRevocation(ctx, p); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}

// appendRevocation appends token.revoked and waits until the projections
// have applied it, so the token is refused as soon as the answer is out.
func (o *OAuth) appendRevocation(ctx context.Context, p Principal) error {
	ev, err := events.New(
		events.Ref{Tenant: p.Tenant, Type: events.AggToken, ID: p.AppID},
		events.Actor{Kind: events.ActorApp, ID: p.AppID},
		o.cfg.Now(),
		&events.TokenRevoked{JTI: p.Claims.JTI, AppID: p.AppID, ExpiresAt: timeUnix(p.Claims.ExpiresAt)})
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
		return fosite.ErrInvalidRequest.WithHint("The request body is not a valid form.")
	}
	return nil
}

// oauthError writes an RFC 6749 §5.2 error; invalid_client is 401 with a
// WWW-Authenticate challenge.
func (o *OAuth) oauthError(c echo.Context, err error) error {
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.CodeField == http.StatusUnauthorized {
		c.Response().Header().Set("WWW-Authenticate", `Basic realm="gatehouse"`)
	}
	return c.JSON(rfc.CodeField, map[string]string{"error": rfc.ErrorField, "error_description": rfc.GetDescription()})
}

func timeUnix(s int64) time.Time { return time.Unix(s, 0).UTC() }
