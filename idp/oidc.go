package idp

import (
	"context"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"hash"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/httpapi"
	"github.com/gatehouse/gatehouse/internal/jsonenc"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// IDSigner is an active signing key (package jwks): the keys of an ID
// token's algorithm have the same lifecycle as the access tokens'.
type IDSigner interface {
	Alg() string
	Sign(claims any, typ string) (string, error)
}

// IDTokenTTL is how long an ID token is valid (OIDC Core §2: it is
// consumed at once by the relying party).
const IDTokenTTL = time.Hour

// IDClaims are the claims of an ID token (OIDC Core §2, §5.1) plus tid,
// and sid (OIDC Front-Channel Logout 1.0 §3, Back-Channel Logout 1.0
// §2.1): the browser session the grant was made in, its id (the HMAC of
// the cookie's secret, which does not lead back to the cookie), which a
// logout's id_token_hint names.
type IDClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  []string `json:"aud"`
	IssuedAt  int64    `json:"iat"`
	ExpiresAt int64    `json:"exp"`
	AuthTime  int64    `json:"auth_time"`
	Nonce     string   `json:"nonce,omitempty"`
	AtHash    string   `json:"at_hash,omitempty"`
	Email     string   `json:"email,omitempty"`
	Name      string   `json:"name,omitempty"`
	Tenant    string   `json:"tid"`
	AZP       string   `json:"azp,omitempty"`
	SessionID string   `json:"sid,omitempty"`
}

// AppendJSON appends c as json.Marshal encodes it (jwks.Signer.Sign
// takes it so, without reflection).
func (c IDClaims) AppendJSON(b []byte) []byte {
	b = jsonenc.ClaimsHead(b, c.Issuer, c.Subject, c.Audience)
	b = jsonenc.IntMember(b, "iat", c.IssuedAt)
	b = jsonenc.IntMember(b, "exp", c.ExpiresAt)
	b = jsonenc.IntMember(b, "auth_time", c.AuthTime)
	for _, m := range [...]struct{ name, v string }{{"nonce", c.Nonce}, {"at_hash", c.AtHash}, {"email", c.Email}, {"name", c.Name}} {
		if m.v != "" {
			b = jsonenc.StringMember(b, m.name, m.v)
		}
	}
	b = jsonenc.StringMember(b, "tid", c.Tenant)
	if c.AZP != "" {
		b = jsonenc.StringMember(b, "azp", c.AZP)
	}
	if c.SessionID != "" {
		b = jsonenc.StringMember(b, "sid", c.SessionID)
	}
	return append(b, '}')
}

// idTokens adds an ID token to the token endpoint's answer of a grant
// that carries openid (OIDC Core §3.1.3.3, §12.2): after the code or
// refresh handler, it reads the grant (its nonce, auth_time and user) and
// signs with the active key of the ID tokens' algorithm.
type idTokens struct{ idp *IdP }

var _ fosite.TokenEndpointHandler = (*idTokens)(nil)

func (h *idTokens) HandleTokenEndpointRequest(context.Context, fosite.AccessRequester) error {
	return fosite.ErrUnknownRequest
}

func (h *idTokens) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool { return false }

func (h *idTokens) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantTypes().ExactOne("authorization_code") || r.GetGrantTypes().ExactOne("refresh_token")
}

func (h *idTokens) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !r.GetGrantedScopes().Has("openid") || resp.GetAccessToken() == "" {
		return nil
	}
	g, err := h.idp.wonGrant(ctx, r.GetID())
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	tok, err := h.idp.idToken(ctx, g, r.GetClient(), resp.GetAccessToken(), r.GetGrantTypes().ExactOne("authorization_code"))
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	resp.SetExtra("id_token", tok)
	return nil
}

// idToken signs the ID token of grant g for the access token at, with the
// key of the client's id_token_signed_response_alg (OIDC Registration
// 1.0 §2; the server's default when it names none). The nonce is in the
// first one only (OIDC Core §12.2: a refreshed ID token need not carry
// it).
func (p *IdP) idToken(ctx context.Context, g projections.Grant, client fosite.Client, at string, first bool) (string, error) {
	clientID := client.GetID()
	u, err := p.requestUser(ctx, g.Tenant, g.UserID)
	if err != nil {
		return "", err
	}
	if p.cfg.IDSigner == nil {
		return "", errors.New("idp: no ID token signer")
	}
	alg := p.cfg.IDTokenAlg
	if c, ok := client.(*oauth.Client); ok && c.IDTokenAlg != "" {
		alg = c.IDTokenAlg
	}
	s, err := p.cfg.IDSigner(alg)
	if err != nil {
		return "", err
	}
	now := p.now()
	c := IDClaims{Issuer: p.cfg.Issuer, Subject: u.ID, Audience: []string{clientID}, IssuedAt: now.Unix(),
		ExpiresAt: now.Add(IDTokenTTL).Unix(), AuthTime: g.AuthTime.Unix(), AtHash: halfHash(s.Alg(), at),
		Email: u.Email, Name: u.Name, Tenant: g.Tenant, AZP: clientID, SessionID: g.SessionID}
	if first {
		c.Nonce = g.Nonce
	}
	return s.Sign(c, "JWT")
}

// halfHash is at_hash (OIDC Core §3.1.3.6): the left half of the hash of
// the token, the hash of the signing algorithm (SHA-512 for EdDSA).
func halfHash(alg, token string) string {
	var h hash.Hash
	switch {
	case strings.HasSuffix(alg, "384"):
		h = sha512.New384()
	case strings.HasSuffix(alg, "512"), alg == "EdDSA":
		h = sha512.New()
	default:
		// ES256, RS256: SHA-256, without a hash.Hash or a copy of the
		// token of its own.
		sum := sha256Of(token)
		return b64String(sum[:len(sum)/2])
	}
	h.Write([]byte(token))
	sum := h.Sum(nil)
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// userinfo serves GET|POST /v1/oauth/userinfo (OIDC Core §5.3): a
// person's access token carrying openid (bearerToken: the header, or a
// POST's form body); the claims sub, email, name and tid. Errors as RFC
// 6750 §3.
func (p *IdP) userinfo(c echo.Context) error {
	token, found, bad := bearerToken(c.Request())
	if bad != "" {
		c.Response().Header().Set("WWW-Authenticate", `Bearer error="invalid_request"`)
		return c.JSON(http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": bad})
	}
	if !found {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
		return c.JSON(http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "A bearer access token is required."})
	}
	ctx := c.Request().Context()
	pr, err := p.cfg.OAuth.Checker().Check(ctx, token)
	if err == nil {
		p.cfg.OAuth.AllowOrigin(c, pr.ClientID) // a browser app reads its user's claims
	}
	if err == nil && (pr.Subject == pr.ClientID || !slices.Contains(pr.Claims.Scopes(), "openid")) {
		c.Response().Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="openid"`)
		return c.JSON(http.StatusForbidden, map[string]string{"error": "insufficient_scope", "error_description": "The token was not issued to a person with the openid scope."})
	}
	var u projections.User
	if err == nil {
		u, err = p.activeUser(ctx, pr.Tenant, pr.Subject)
	}
	if err != nil {
		if !errors.Is(err, errUserGone) && !isInactive(err) {
			return p.unavailableJSON(c, err)
		}
		c.Response().Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		return c.JSON(http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "The access token is not active."})
	}
	return c.JSON(http.StatusOK, map[string]string{"sub": u.ID, "email": u.Email, "name": u.Name, "tid": u.Tenant})
}

// bearerToken reads the access token of a userinfo request as RFC 6750
// §2 sends it: the Authorization header's Bearer credentials (§2.1) or
// the form-encoded body parameter access_token of a POST (§2.2). bad is
// the invalid_request (§3.1) of a request using more than one method
// (§2: "Clients MUST NOT use more than one method"), repeating the
// parameter or the header, or putting the token in the URL's query
// (§2.3, which this server does not take: a URL is logged and kept in
// histories).
func bearerToken(r *http.Request) (token string, found bool, bad string) {
	methods := 0
	if hs := r.Header.Values("Authorization"); len(hs) > 1 {
		return "", false, "The request includes the Authorization header more than once."
	} else if len(hs) == 1 {
		if token, found = oauth.BearerOf(hs[0]); found {
			methods++
		}
	}
	if _, ok := r.URL.Query()["access_token"]; ok {
		return "", false, "The access token must be sent in the Authorization header or the form-encoded body, not in the URL."
	}
	if r.Method == http.MethodPost && formBody(r) {
		if err := r.ParseForm(); err != nil {
			return "", false, "The form-encoded body cannot be read."
		}
		if v, ok := r.PostForm["access_token"]; ok {
			if len(v) > 1 {
				return "", false, "The request includes the parameter 'access_token' more than once."
			}
			token, found = v[0], true
			methods++
		}
	}
	if methods > 1 {
		return "", false, "The request sends the access token by more than one method (RFC 6750 section 2)."
	}
	return token, found, ""
}

// formBody reports whether r's body is application/x-www-form-urlencoded.
func formBody(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// isInactive reports whether err is the checker's refusal of a token,
// not a log or a store that cannot answer now (httpapi.IsUnavailable) nor
// a request out of time: those are 503, never "the token is not active".
func isInactive(err error) bool {
	return !httpapi.IsUnavailable(err) && !errors.Is(err, context.DeadlineExceeded)
}

func (p *IdP) unavailableJSON(c echo.Context, err error) error {
	p.cfg.Logger.Error("idp: userinfo failed", "err", err)
	c.Response().Header().Set("Retry-After", "1")
	return c.JSON(http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
}
