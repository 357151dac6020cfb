package console

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/gatehouse/gatehouse/events"
	"github.com/gatehouse/gatehouse/idp"
	"github.com/gatehouse/gatehouse/oauth"
)

// Sign-in (issue 18: "the console signs its users in through Gatehouse's
// own authorization code + PKCE flow"). The console is the built-in
// first-party client of every tenant (oauth.ConsoleClientID): a page
// without a console session sends the browser to /v1/oauth/authorize
// (S256, state, nonce), whose login page signs the person in (no consent:
// the client is first-party); /console/callback exchanges the code at the
// token endpoint, verifies the ID token and keeps the tokens in the
// console's session cookie, sealed (AES-GCM, sealing.ConsoleSession) and
// HttpOnly: neither a script nor the person can read or change them.
// Every request checks the access token with the API's own TokenChecker
// (revoked, user disabled, role taken away: the next page signs in again)
// and refreshes it with the refresh token shortly before it expires.

// The cookies, by their base names: on an https issuer each is named
// with the __Host- prefix and has Path=/ (idp.CookieName), on http its
// page's path (the session /console, the pending sign-in
// /console/callback). Their seals are labelled with the base name.
const (
	sessionCookie = "gh_console"
	pendingCookie = "gh_console_auth"
	// pendingTTL is how long a sign-in may take.
	pendingTTL = 10 * time.Minute
	// refreshAhead is how long before its expiry the access token is
	// refreshed.
	refreshAhead = 30 * time.Second
)

// session is the console session of a browser: the person's tokens and
// a flash message for the next page.
type session struct {
	// ID is the session's own random value, set at sign-in: the forms'
	// CSRF tokens are bound to it (idp.BoundCSRFToken). A session sealed
	// without one (before it was added) signs in again.
	ID      string `json:"i"`
	Tenant  string `json:"t"`
	User    string `json:"u"`
	Access  string `json:"a"`
	Refresh string `json:"r"`
	// Expires is the access token's expiry (Unix seconds).
	Expires int64  `json:"e"`
	Flash   *flash `json:"f,omitempty"`
}

// flash is a message the next page shows once (a form's outcome): kept in
// the sealed session, never in the URL, so a crafted link shows nothing.
type flash struct {
	Notice string `json:"n,omitempty"`
	Error  string `json:"e,omitempty"`
}

// pending is a sign-in under way, from /v1/oauth/authorize to the
// callback.
type pending struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Tenant   string `json:"t"`
	Back     string `json:"b"`
	Expires  int64  `json:"e"`
}

// csrfBound is what the forms' CSRF tokens of the session are bound to
// ("" for none: no session, or one without an ID).
func (sess *session) csrfBound() string {
	if sess == nil {
		return ""
	}
	return sess.ID
}

func (s *Console) now() time.Time { return s.cfg.Now() }

// cookie is the cookie base (sessionCookie, pendingCookie) of the page
// path: named and scoped as the issuer's scheme wants.
func (s *Console) cookie(base, path, value string, maxAge int) *http.Cookie {
	secure := strings.HasPrefix(s.cfg.Issuer, "https://")
	if secure {
		path = "/" // __Host-: Path=/, no Domain
	}
	return &http.Cookie{Name: idp.CookieName(s.cfg.Issuer, base), Value: value, Path: path, MaxAge: maxAge, HttpOnly: true,
		Secure: secure, SameSite: http.SameSiteLaxMode}
}

// seal writes v as the sealed cookie name.
func (s *Console) seal(c echo.Context, name, path string, v any, maxAge int) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	sealed, err := s.cfg.Sealer.Seal(name, b)
	if err != nil {
		return err
	}
	c.SetCookie(s.cookie(name, path, base64.RawURLEncoding.EncodeToString([]byte(sealed)), maxAge))
	return nil
}

// open reads the sealed cookie name into v (false: none, or not ours).
func (s *Console) open(c echo.Context, name string, v any) bool {
	ck, err := c.Cookie(idp.CookieName(s.cfg.Issuer, name))
	if err != nil {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return false
	}
	b, err := s.cfg.Sealer.Open(name, string(raw))
	return err == nil && json.Unmarshal(b, v) == nil
}

// saveSession writes the person's session cookie; it lives as long as
// the refresh token may (the token endpoint decides).
func (s *Console) saveSession(c echo.Context, sess *session) error {
	return s.seal(c, sessionCookie, idp.ConsolePath, sess, 0)
}

// signedIn admits a browser with a live console session whose access
// token the API accepts now; others sign in (startSignIn) and come back.
func (s *Console) signedIn(h handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		var sess session
		ok := s.open(c, sessionCookie, &sess) && sess.ID != ""
		want := c.QueryParam("tenant")
		if ok && want != "" {
			t, err := s.cfg.TenantByName(c.Request().Context(), want)
			ok = err == nil && t == sess.Tenant
		}
		if ok && s.now().Add(refreshAhead).Unix() >= sess.Expires {
			ok = s.refresh(c, &sess) == nil
		}
		if !ok {
			return s.startSignIn(c, want)
		}
		pr, err := s.cfg.Checker.Check(c.Request().Context(), sess.Access)
		if err != nil || pr.UserID != sess.User {
			s.cfg.Logger.Info("console: the session's token is refused; signing in again", "err", err)
			return s.startSignIn(c, want)
		}
		p, err := s.personOf(c, pr, &sess)
		if err != nil {
			return err
		}
		return h(c, p)
	}
}

// startSignIn sends the browser to the authorization endpoint as the
// console client of the tenant named want (default: the default
// tenant), remembering state, nonce and the PKCE verifier in a sealed
// cookie of the callback; a page comes back to itself, a form to the
// console's start.
func (s *Console) startSignIn(c echo.Context, want string) error {
	if want == "" {
		want = "default"
	}
	tenant, err := s.cfg.TenantByName(c.Request().Context(), want)
	if err != nil {
		return s.signInFailed(c, http.StatusNotFound, "There is no tenant of that name.")
	}
	back := idp.ConsolePath
	if c.Request().Method == http.MethodGet {
		back = c.Request().URL.RequestURI()
	}
	pe := pending{State: oauth.RandomToken(32), Nonce: oauth.RandomToken(32), Verifier: oauth.RandomToken(32), Tenant: tenant, Back: back,
		Expires: s.now().Add(pendingTTL).Unix()}
	if err := s.seal(c, pendingCookie, oauth.ConsoleCallbackPath, pe, int(pendingTTL/time.Second)); err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(pe.Verifier))
	q := url.Values{
		"response_type": {"code"}, "client_id": {oauth.ConsoleClientID(tenant)}, "redirect_uri": {s.redirectURI()},
		"scope": {strings.Join(append([]string{"openid", "offline_access"}, s.cfg.AdminScopes...), " ")},
		"state": {pe.State}, "nonce": {pe.Nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	return c.Redirect(http.StatusSeeOther, "/v1/oauth/authorize?"+q.Encode())
}

func (s *Console) redirectURI() string { return s.cfg.Issuer + oauth.ConsoleCallbackPath }

var errorCode = regexp.MustCompile(`^[a-z_]{1,64}$`)

// callback serves GET /console/callback: the authorization response of
// the sign-in this browser started (its state), the code exchanged with
// the PKCE verifier, the ID token verified (issuer, audience, nonce,
// expiry, subject), then the session.
func (s *Console) callback(c echo.Context) error {
	var pe pending
	ok := s.open(c, pendingCookie, &pe)
	c.SetCookie(s.cookie(pendingCookie, oauth.ConsoleCallbackPath, "", -1)) // one use
	if !ok || pe.Expires < s.now().Unix() || c.QueryParam("state") != pe.State {
		return s.signInFailed(c, http.StatusBadRequest, "This sign-in expired or was not started by this browser.")
	}
	if e := c.QueryParam("error"); e != "" {
		if !errorCode.MatchString(e) {
			e = "invalid_request"
		}
		return s.signInFailed(c, http.StatusForbidden, "The sign-in was refused ("+e+").")
	}
	tok, err := s.tokenRequest(c, url.Values{"grant_type": {"authorization_code"}, "code": {c.QueryParam("code")},
		"redirect_uri": {s.redirectURI()}, "client_id": {oauth.ConsoleClientID(pe.Tenant)}, "code_verifier": {pe.Verifier}})
	if err != nil {
		s.cfg.Logger.Info("console: code exchange refused", "err", err)
		return s.signInFailed(c, http.StatusBadRequest, "The sign-in could not be completed.")
	}
	sub, err := s.verifyIDToken(tok.IDToken, oauth.ConsoleClientID(pe.Tenant), pe.Nonce)
	if err != nil {
		s.cfg.Logger.Warn("console: ID token refused", "err", err)
		return s.signInFailed(c, http.StatusBadRequest, "The sign-in could not be completed.")
	}
	pr, err := s.cfg.Checker.Check(c.Request().Context(), tok.AccessToken)
	if err != nil || pr.UserID != sub || pr.Tenant != pe.Tenant {
		return s.signInFailed(c, http.StatusForbidden, "The sign-in could not be completed.")
	}
	sess := session{ID: oauth.RandomToken(32), Tenant: pe.Tenant, User: sub, Access: tok.AccessToken, Refresh: tok.RefreshToken,
		Expires: s.now().Unix() + tok.ExpiresIn}
	if err := s.saveSession(c, &sess); err != nil {
		return err
	}
	back := pe.Back
	if !strings.HasPrefix(back, idp.ConsolePath) || strings.Contains(back, "//") || strings.Contains(back, `\`) {
		back = idp.ConsolePath
	}
	return c.Redirect(http.StatusSeeOther, back)
}

func (s *Console) signInFailed(c echo.Context, status int, msg string) error {
	return s.render(c, status, "refused", person{}, view{Title: "Sign-in failed", Error: msg, Refusal: status, SignIn: true})
}

// tokenAnswer is the token endpoint's answer.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	ExpiresIn    int64  `json:"expires_in"`
}

// tokenRequest posts form to the token endpoint of this server,
// in-process (the console is a public client: PKCE, no secret).
func (s *Console) tokenRequest(c echo.Context, form url.Values) (tokenAnswer, error) {
	req, err := http.NewRequestWithContext(c.Request().Context(), http.MethodPost, "/v1/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return tokenAnswer{}, err
	}
	req.RemoteAddr = c.Request().RemoteAddr
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	rec := httptest.NewRecorder()
	s.api.ServeHTTP(rec, req)
	var out tokenAnswer
	if rec.Code != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &e)
		return out, errors.New("console: token endpoint: " + http.StatusText(rec.Code) + " " + e.Error)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.AccessToken == "" {
		return out, errors.New("console: token endpoint: no access token")
	}
	return out, nil
}

// refresh replaces the session's tokens by a refresh (rotation: the old
// refresh token is used up).
func (s *Console) refresh(c echo.Context, sess *session) error {
	if sess.Refresh == "" {
		return errors.New("console: no refresh token")
	}
	tok, err := s.tokenRequest(c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {sess.Refresh},
		"client_id": {oauth.ConsoleClientID(sess.Tenant)}})
	if err != nil {
		return err
	}
	sess.Access, sess.Expires = tok.AccessToken, s.now().Unix()+tok.ExpiresIn
	if tok.RefreshToken != "" {
		sess.Refresh = tok.RefreshToken
	}
	return s.saveSession(c, sess)
}

// verifyIDToken checks the ID token of the sign-in (OIDC Core §3.1.3.7):
// this server's signature, iss, aud the console client, the nonce sent,
// not expired; it returns sub.
func (s *Console) verifyIDToken(tok, clientID, nonce string) (string, error) {
	body, err := s.cfg.VerifyIDToken(tok)
	if err != nil {
		return "", err
	}
	var cl struct {
		Iss   string          `json:"iss"`
		Sub   string          `json:"sub"`
		Aud   json.RawMessage `json:"aud"`
		Nonce string          `json:"nonce"`
		Exp   int64           `json:"exp"`
	}
	if err := json.Unmarshal(body, &cl); err != nil {
		return "", err
	}
	var aud []string
	if json.Unmarshal(cl.Aud, &aud) != nil {
		var one string
		if json.Unmarshal(cl.Aud, &one) != nil {
			return "", errors.New("console: id token: bad aud")
		}
		aud = []string{one}
	}
	switch {
	case cl.Iss != s.cfg.Issuer:
		return "", errors.New("console: id token: another issuer")
	case !slices.Contains(aud, clientID):
		return "", errors.New("console: id token: another audience")
	case cl.Nonce == "" || cl.Nonce != nonce:
		return "", errors.New("console: id token: nonce mismatch")
	case cl.Exp <= s.now().Unix():
		return "", errors.New("console: id token: expired")
	case cl.Sub == "":
		return "", errors.New("console: id token: no subject")
	}
	return cl.Sub, nil
}

// logout serves POST /console/logout: the refresh token revoked (its
// family dies, and the access tokens issued from it), the console
// session and the person's sign-in session ended.
func (s *Console) logout(c echo.Context) error {
	var sess session
	opened := s.open(c, sessionCookie, &sess)
	if !opened || !s.cfg.People.CheckBoundCSRF(c, sess.ID) {
		return s.render(c, http.StatusForbidden, "refused", person{}, view{Title: http.StatusText(http.StatusForbidden), Refusal: http.StatusForbidden, SignIn: true, Error: "This form expired or was not sent from this page. Go back, reload the page and try again."})
	}
	if sess.Refresh != "" {
		if err := s.cfg.People.RevokeRefreshFamily(c.Request().Context(), sess.Refresh); err != nil {
			return err
		}
	}
	c.SetCookie(s.cookie(sessionCookie, idp.ConsolePath, "", -1))
	if err := s.cfg.People.EndSession(c); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login?"+url.Values{"return_to": {idp.ConsolePath}}.Encode())
}

// personOf is the person of a checked console token: the principal the
// console's in-process API requests carry is derived from that token
// alone (its tenant, user, scopes as the API's TokenChecker left them,
// its jti), with the user as actor and no app: the console is this
// server's own page holding the token sealed, not an app that could act
// with it on its own, so two admins signed in here count as two in a
// quorum. The rate limits count each person apart (client
// "console:<user id>").
func (s *Console) personOf(c echo.Context, pr oauth.Principal, sess *session) (person, error) {
	u, err := s.cfg.User(c.Request().Context(), pr.Tenant, pr.UserID)
	if err != nil {
		return person{}, err
	}
	admin := slices.Contains(u.Roles, events.RoleAdmin)
	return person{Person: idp.Person{Tenant: pr.Tenant, User: u}, Admin: admin, sess: sess, Principal: oauth.Principal{
		Tenant: pr.Tenant, ClientID: "console:" + u.ID, Subject: pr.Subject, UserID: u.ID, Username: u.Email, Scopes: pr.Scopes,
		Claims: pr.Claims, Actor: events.Actor{Kind: events.ActorUser, ID: u.ID, Via: pr.Claims.JTI},
	}}, nil
}
