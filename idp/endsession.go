package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/projections"
)

// logoutTarget is where RP-initiated logout sends the browser back to: a
// post_logout_redirect_uri registered with the app, as one of its
// redirect URIs (the app's redirect URIs as the client offers them, so
// only approved ones once approval applies to them), and the state.
type logoutTarget struct {
	client *oauth.Client
	uri    string
	state  string
}

// url is the redirect with state, or "" for none.
func (t logoutTarget) url() string {
	if t.uri == "" {
		return ""
	}
	u, err := url.Parse(t.uri)
	if err != nil {
		return ""
	}
	if t.state != "" {
		q := u.Query()
		q.Set("state", t.state)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// hintClaims are what logout and the authorization endpoint read of an
// id_token_hint.
type hintClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	Tenant   string   `json:"tid"`
	// SessionID is the session the ID token was issued in (sid; none in
	// ID tokens of codes issued before it).
	SessionID string `json:"sid"`
}

// errHint is readHint's answer to a hint that is not an ID token of this
// server.
var errHint = errors.New("idp: the id_token_hint is not an ID token of this server")

// readHint reads an id_token_hint (OIDC Core §3.1.2.1, RP-Initiated
// Logout 1.0 §2): an ID token signed by a key of this server's set (by
// its kid, whichever the algorithm: Config.VerifyIDToken), of this
// issuer, with an audience. Its expiry is not checked: an expired hint
// still says who it was issued to, and both specifications accept it.
func (p *IdP) readHint(raw string) (*hintClaims, error) {
	if p.cfg.VerifyIDToken == nil {
		return nil, errHint
	}
	body, err := p.cfg.VerifyIDToken(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errHint, err)
	}
	h := &hintClaims{}
	if json.Unmarshal(body, h) != nil || h.Issuer != p.cfg.Issuer || len(h.Audience) == 0 {
		return nil, errHint
	}
	return h, nil
}

// logoutRequest reads an RP-initiated logout request (OpenID Connect
// RP-Initiated Logout 1.0 §2): id_token_hint (signed by this server; an
// expired one is accepted), client_id, post_logout_redirect_uri, state.
func (p *IdP) logoutRequest(ctx context.Context, v url.Values) (logoutTarget, *hintClaims, string) {
	var t logoutTarget
	var hint *hintClaims
	clientID := v.Get("client_id")
	if h := v.Get("id_token_hint"); h != "" {
		var err error
		if hint, err = p.readHint(h); err != nil {
			return t, nil, "The id_token_hint was not issued by this server."
		}
		if clientID != "" && !slices.Contains(hint.Audience, clientID) {
			return t, nil, "The id_token_hint was issued to another client."
		}
		clientID = hint.Audience[0]
	}
	uri := v.Get("post_logout_redirect_uri")
	if uri == "" {
		return t, hint, ""
	}
	if clientID == "" {
		return t, nil, "A post_logout_redirect_uri needs the client_id or an id_token_hint."
	}
	cl, err := p.cfg.OAuth.ClientByID(ctx, clientID)
	if err != nil || !slices.Contains(cl.GetRedirectURIs(), uri) {
		return t, nil, "The post_logout_redirect_uri is not registered with the application."
	}
	return logoutTarget{client: cl, uri: uri, state: v.Get("state")}, hint, ""
}

// logoutParams are the parameters of an RP-initiated logout request: the
// query of a GET, the form-encoded body of a POST (RP-Initiated Logout
// 1.0 §2: the OP "MUST support the use of the HTTP GET and POST
// methods"), or "" and the message of the error page when one is given
// twice (it would say two things, as at the authorization endpoint).
func logoutParams(c echo.Context) (url.Values, string) {
	v := c.QueryParams()
	if c.Request().Method == http.MethodPost {
		if err := c.Request().ParseForm(); err != nil {
			return nil, "The logout request's form cannot be read."
		}
		v = c.Request().PostForm
	}
	if name := oauth.RepeatedParam(v); name != "" {
		return nil, "The logout request includes the parameter '" + name + "' more than once."
	}
	return v, ""
}

// endHinted ends the session an id_token_hint's sid names when it is the
// hint's subject's and still live, unless it is the browser's own
// session (cur, live), which endSession ends. The browser need not send
// its cookie: a relying party's logout form POSTed from its own site
// comes without it (SameSite=Lax), and the session ends all the same, as
// at Keycloak and Hydra.
func (p *IdP) endHinted(ctx context.Context, hint *hintClaims, cur projections.Session, live bool) error {
	if hint == nil || hint.SessionID == "" || (live && cur.ID == hint.SessionID) {
		return nil
	}
	sess, err := lookAgain(ctx, p, func() (projections.Session, error) { return projections.GetSession(ctx, p.cfg.Store, hint.SessionID) })
	if errors.Is(err, projections.ErrNotFound) {
		return nil // ended already, or expired
	}
	if err != nil {
		return err
	}
	if sess.UserID != hint.Subject || sess.Tenant != hint.Tenant || !p.now().Before(sess.ExpiresAt) {
		return nil
	}
	return p.sessions.end(ctx, sess, events.SessionEndedLogout)
}

// endSession serves GET and POST /v1/oauth/logout. With an id_token_hint
// (signed by this server, issued to the client_id given; an expired one
// is taken, RP-Initiated Logout 1.0 §2) the session its sid names ends,
// with or without the browser's cookie, and so does the browser's own
// session when it is the hint's subject's; otherwise the user confirms
// on the logout page (a request alone, which another site can make,
// never signs anyone out).
func (p *IdP) endSession(c echo.Context) error {
	ctx := c.Request().Context()
	params, bad := logoutParams(c)
	var t logoutTarget
	var hint *hintClaims
	if bad == "" {
		t, hint, bad = p.logoutRequest(ctx, params)
	}
	if bad != "" {
		return p.errorPage(c, http.StatusBadRequest, bad, "invalid_request")
	}
	sess, _, live, err := p.sessions.current(c)
	if err != nil {
		return p.unavailable(c, err)
	}
	if err := p.endHinted(ctx, hint, sess, live); err != nil {
		return p.unavailable(c, err)
	}
	if !live || (hint != nil && hint.Subject == sess.UserID && hint.Tenant == sess.Tenant) {
		if live {
			if err := p.sessions.end(ctx, sess, events.SessionEndedLogout); err != nil {
				return p.unavailable(c, err)
			}
		}
		c.SetCookie(p.sessions.cookie(sessionCookie, "", -1))
		if u := t.url(); u != "" {
			return c.Redirect(http.StatusSeeOther, u)
		}
		return p.render(c, http.StatusOK, "logout", view{Title: "Signed out", Done: true})
	}
	v := view{Title: "Sign out", CSRF: p.sessions.csrf(c, "")}
	if t.client != nil {
		v.AppName = p.appName(ctx, t.client.Tenant, t.client.AppID, t.client.ClientID)
		v.ReturnTo = url.Values{"client_id": {t.client.ClientID}, "post_logout_redirect_uri": {t.uri}, "state": {t.state}}.Encode()
	}
	return p.render(c, http.StatusOK, "logout", v)
}
