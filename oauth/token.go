package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/internal/jsonenc"
)

// token serves POST /v1/oauth/token (RFC 6749 §3.2). Granted scopes are
// requested ∩ approved; no scope parameter means every approved scope;
// a scope that is not approved is invalid_scope (fosite's scope check
// against Client.GetScopes).
func (o *Server) token(c echo.Context) error {
	ctx := withMemo(c.Request().Context())
	if err := c.Request().ParseForm(); err != nil {
		if p, ok := tooLarge(err); ok {
			return p
		}
	}
	if gt := c.Request().PostForm.Get("grant_type"); gt != "" && !slices.Contains(o.grants, gt) {
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
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		if err := o.clientCredentials(ar, client, sess); err != nil {
			return o.oauthError(c, err)
		}
	}
	resp, err := o.accessResponse(ctx, ar)
	if err != nil {
		return o.oauthError(c, errInvalidGrantCause(err))
	}
	return writeAccessResponse(c, resp)
}

// accessResponse is fosite's NewAccessResponse (the token endpoint
// handlers, in their order, populate the answer, which must end with an
// access token and its type), except that a handler is asked only if it
// handles the request's grant (CanHandleTokenEndpointRequest, as fosite's
// NewAccessRequest asks). fosite asks every handler, and each of fosite's
// that does not handle the grant answers ErrUnknownRequest wrapped with
// its call stack (errorsx.WithStack: runtime.Callers), which was 4 % of a
// refresh rotation's CPU.
func (o *Server) accessResponse(ctx context.Context, ar fosite.AccessRequester) (fosite.AccessResponder, error) {
	resp := fosite.NewAccessResponse()
	ctx = context.WithValue(ctx, fosite.AccessRequestContextKey, ar)
	ctx = context.WithValue(ctx, fosite.AccessResponseContextKey, resp)
	for _, h := range o.fc.GetTokenEndpointHandlers(ctx) {
		if !h.CanHandleTokenEndpointRequest(ctx, ar) {
			continue
		}
		if err := h.PopulateTokenEndpointResponse(ctx, ar, resp); err != nil && !errors.Is(err, fosite.ErrUnknownRequest) {
			return nil, err
		}
	}
	if resp.GetAccessToken() == "" || resp.GetTokenType() == "" {
		return nil, fosite.ErrServerError.WithHint("An internal server occurred while trying to complete the request.").
			WithDebug("Access token or token type not set by TokenEndpointHandlers.")
	}
	return resp, nil
}

// clientCredentials grants a service token's scopes: requested ∩
// approved, every approved scope when none is requested; the OpenID
// Connect scopes are about a person and never on a client's own token.
func (o *Server) clientCredentials(ar fosite.AccessRequester, client *Client, sess *Session) error {
	sess.Subject, sess.Tenant, sess.AppID = client.ClientID, client.Tenant, client.AppID
	sess.GrantType = strings.Join(ar.GetGrantTypes(), " ")
	if len(ar.GetRequestedScopes()) == 0 {
		// Every approved scope; a catalog scope approved before its name
		// became an OpenID Connect one (profile, email) is not a client's.
		ar.SetRequestedScopes(slices.DeleteFunc(slices.Clone(client.Approved), func(s string) bool { return slices.Contains(OIDCScopes, s) }))
	}
	for _, s := range ar.GetRequestedScopes() {
		if slices.Contains(OIDCScopes, s) {
			return fosite.ErrInvalidScope.WithHintf("The scope %q is for a person's tokens, not the client's own.", s)
		}
		ar.GrantScope(s)
	}
	return nil
}

// writeAccessResponse writes the token endpoint's answer (RFC 6749 §5.1)
// with token_type "Bearer" as RFC 6750 §6.1.1 registers it (fosite writes
// "bearer"; clients that compare case-sensitively refuse it). The body is
// the bytes echo's JSON writes (encoding/json of the map: members sorted
// by name, HTML characters escaped, a final newline), encoded directly
// (appendJSONObject): the map through encoding/json was 4 % of a refresh
// rotation's CPU.
func writeAccessResponse(c echo.Context, resp fosite.AccessResponder) error {
	body := resp.ToMap()
	body["token_type"] = "Bearer"
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	bp := answerBufs.Get().(*[]byte)
	defer answerBufs.Put(bp)
	b, err := appendJSONObject((*bp)[:0], body)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	*bp = b
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, b) // written before it returns
}

// answerBufs are the buffers of the token endpoint's answers (a 2 KiB
// allocation per answer otherwise).
var answerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// appendJSONObject appends m as json.Marshal encodes it: strings and
// integers directly, anything else through json.Marshal.
func appendJSONObject(b []byte, m map[string]any) ([]byte, error) {
	b = append(b, '{')
	var stack [8]string // a token answer has 4-6 members
	keys := stack[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.String(b, k)
		b = append(b, ':')
		switch v := m[k].(type) {
		case string:
			b = jsonenc.String(b, v)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		default:
			enc, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			b = append(b, enc...)
		}
	}
	return append(b, '}'), nil
}

// tokenGrants are the grant types the token endpoint has a handler for.
var tokenGrants = []string{"client_credentials"}
